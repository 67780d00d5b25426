"""Call queries the webhooks rely on: one query for a call with its task and policy, and the cheap checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from speech.cache import PromptCache
from storage.repositories import calls as call_repo
from tests.ivr.conftest import Ivr, build_ivr, sid

CA1 = sid("CA1")  # the call the test IVR places

T = TypeVar("T")


def read(ivr: Ivr, query: Callable[[Session], T]) -> T:
    """One query in a short session of its own (a session kept open would hold SQLite's write lock)."""
    with ivr.session() as session:
        return query(session)


def test_a_call_comes_with_its_own_task_and_policy(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)  # keys only: no recording is fetched
    ivr.run_to_question()
    found = read(ivr, lambda s: call_repo.with_task_and_policy(s, CA1))
    assert found is not None
    call, task, policy = found
    assert (call.call_sid, task.id, policy.policy_no) == (CA1, ivr.task_id, ivr.policy_no)
    assert (call.task_id, call.policy_id) == (task.id, policy.id)
    assert read(ivr, lambda s: call_repo.with_task_and_policy(s, "CA-unknown")) is None


def test_turn_and_state_follow_the_call(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    assert read(ivr, lambda s: call_repo.turn_of(s, CA1)) is None
    assert read(ivr, lambda s: call_repo.state_of(s, CA1)) is None
    ivr.run_to_question()
    stored = ivr.call()
    assert read(ivr, lambda s: call_repo.turn_of(s, CA1)) == (stored.turn_seq, False)
    assert read(ivr, lambda s: call_repo.state_of(s, CA1)) == stored.state
    ivr.ok(ivr.turn(digits="hangup"))
    ended = ivr.call()
    assert ended.end_reason is not None
    assert read(ivr, lambda s: call_repo.turn_of(s, CA1)) == (ended.turn_seq, True)
