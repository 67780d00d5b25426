"""The questionnaire off the phone: the same engine, classifier and result rules as a call, in a session."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from calls import sessions as web
from calls.context import CallContext
from calls.errors import CallConflict
from flows.vocab import CaseType
from kit.vocab import CallbackChannel, TaskStatus
from speech.cache import PromptCache
from storage.db import unit_of_work
from storage.models import CallbackTask, Case
from tests.ivr.conftest import Ivr, build_ivr

pytestmark = pytest.mark.db

BORN = date(1980, 5, 17)  # policy_row's applicant
BROWSER = {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (iPhone)"}


@pytest.fixture
def world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> tuple[Ivr, CallContext]:
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True)
    with ivr.session() as s:
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        task.channel = CallbackChannel.ECALLBACK
        s.commit()
    return ivr, web.session_context(ivr.svc.calls, identity_attempts=3, time_limit_s=1800)


def _open(ivr: Ivr, ctx: CallContext) -> tuple[str, dict[str, Any]]:
    with unit_of_work(ivr.svc.sessions) as s:
        task = s.get(CallbackTask, ivr.task_id, with_for_update=True)
        assert task is not None
        call = web.open_session(s, ctx, task, CallbackChannel.ECALLBACK, detail=BROWSER)
        s.commit()
        return call.call_sid, web.current(call)


def _identify(ivr: Ivr, ctx: CallContext, sid: str, doc: dict[str, Any], born: date = BORN) -> dict[str, Any]:
    with unit_of_work(ivr.svc.sessions) as s:
        out = web.identify(s, ctx, sid, doc["seq"], born, BROWSER)
        s.commit()
        return out


def _answer(ivr: Ivr, ctx: CallContext, sid: str, doc: dict[str, Any], value: str) -> dict[str, Any]:
    with unit_of_work(ivr.svc.sessions) as s:
        out = web.answer(s, ctx, sid, doc["seq"], value, BROWSER)
        s.commit()
        return out


def _run(ivr: Ivr, ctx: CallContext, choose: Any = lambda doc: "yes") -> tuple[str, dict[str, Any]]:
    sid, doc = _open(ivr, ctx)
    doc = _identify(ivr, ctx, sid, doc)
    for _ in range(60):
        if doc["end_reason"]:
            break
        doc = _answer(ivr, ctx, sid, doc, choose(doc))
    return sid, doc


def test_all_yes_is_standard_and_the_session_is_kept_like_a_call(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, first = _open(ivr, ctx)
    assert sid.startswith("EC")
    assert len(sid) == 34
    assert first["expect"] == "yes_no"
    assert "本人" in first["prompts"][-1]["text"]
    task = ivr.task()
    assert (task.status, task.claimed_by, task.lease_expires_at) == (TaskStatus.QUEUED, None, None)  # no lease
    sid, last = _run(ivr, ctx)
    assert last["end_reason"] == "completed"
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "standard")
    call = ivr.call(sid)
    assert (call.channel, call.result_class, call.end_reason) == (CallbackChannel.ECALLBACK, "standard", "completed")
    answers = [e for e in ivr.events(sid) if e.kind == "answer"]
    assert answers
    assert {e.who for e in answers} == {"applicant"}
    assert all(e.detail["ip"] == "203.0.113.7" and "iPhone" in e.detail["user_agent"] for e in answers)
    assert answers[0].detail["via"] == "identity_form"  # the presence question, confirmed by the identity form
    assert answers[1].text == "1980-05-17"
    assert answers[1].topic == "identity"


def test_no_then_yes_after_the_explanation_is_sub_standard(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    said_no: list[str] = []

    def choose(doc: dict[str, Any]) -> str:
        topic = doc["prompts"][-1]["topic"]
        if topic == "understand_coverage" and not said_no:
            said_no.append(topic)
            return "no"
        return "yes"

    sid, _ = _run(ivr, ctx, choose)
    assert said_no == ["understand_coverage"]
    explained = [e for e in ivr.events(sid) if e.kind == "prompt" and e.detail.get("role") == "explanation"]
    assert len(explained) == 1
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "sub_standard")


def test_a_human_answer_opens_the_case_as_the_ivr_without_an_agent_line(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    asked: list[str] = []

    def choose(doc: dict[str, Any]) -> str:
        if not asked and doc["prompts"][-1]["topic"] == "understand_coverage":
            asked.append("human")
            return "human"
        return "yes"

    sid, _ = _run(ivr, ctx, choose)
    call = ivr.call(sid)
    assert call.state is not None
    assert call.state["answers"]["understand_coverage"] == "human_requested"
    assert (call.handoff_topic, call.result_class) == ("understand_coverage", "problem")
    handoff = [e for e in ivr.events(sid) if e.kind == "handoff"]
    assert handoff
    assert handoff[0].detail["DialCallStatus"] == "no agent line configured"
    with ivr.session() as s:
        cases = list(s.scalars(select(Case)))
    assert [c.type for c in cases] == [CaseType.CONTRACT_QUALITY_CASE]


def test_three_wrong_birth_dates_end_as_identity_failed(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, doc = _open(ivr, ctx)
    for attempt in range(3):
        doc = _identify(ivr, ctx, sid, doc, date(1981, 6, 18))
        assert (doc["end_reason"] is None) == (attempt < 2)
    assert doc["end_reason"] == "identity_failed"
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "verification")
    with ivr.session() as s:
        assert [c.type for c in s.scalars(select(Case))] == [CaseType.VERIFICATION_CASE]


def test_a_session_past_its_time_limit_ends_on_the_next_answer(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, doc = _open(ivr, ctx)
    doc = _identify(ivr, ctx, sid, doc)
    ivr.clock.advance(timedelta(seconds=1801))
    doc = _answer(ivr, ctx, sid, doc, "yes")
    assert doc["end_reason"] == "language_barrier"
    assert [e for e in ivr.events(sid) if e.kind == "answer"][-1].detail["time_limit"] == 1800


def test_an_answer_delivered_twice_changes_nothing_and_a_stale_one_is_refused(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, doc = _open(ivr, ctx)
    doc = _identify(ivr, ctx, sid, doc)
    nxt = _answer(ivr, ctx, sid, doc, "yes")
    count = ivr.call(sid).event_count
    assert _answer(ivr, ctx, sid, doc, "no") == nxt
    assert ivr.call(sid).event_count == count
    _answer(ivr, ctx, sid, nxt, "yes")
    with pytest.raises(CallConflict, match="stale"):
        _answer(ivr, ctx, sid, doc, "yes")
    with pytest.raises(CallConflict, match="not one of"):
        _answer(ivr, ctx, sid, doc, "maybe")


def test_a_task_on_another_channel_or_finished_cannot_start(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    with unit_of_work(ivr.svc.sessions) as s:
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        task.channel = CallbackChannel.PHONE
        with pytest.raises(CallConflict, match="is on phone"):
            web.open_session(s, ctx, task, CallbackChannel.ECALLBACK, detail={})
    _run(ivr, ctx)
    with unit_of_work(ivr.svc.sessions) as s:
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        with pytest.raises(CallConflict, match="completed"):
            web.open_session(s, ctx, task, CallbackChannel.ECALLBACK, detail={})


def test_identity_given_again_after_it_passed_is_refused_and_answers_nothing(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, doc = _open(ivr, ctx)
    doc = _identify(ivr, ctx, sid, doc)
    answers = len([e for e in ivr.events(sid) if e.kind == "answer"])
    with pytest.raises(CallConflict, match="verified already"):
        _identify(ivr, ctx, sid, doc)
    assert len([e for e in ivr.events(sid) if e.kind == "answer"]) == answers


def test_the_time_limit_runs_from_the_first_answer_not_from_the_opening(world: tuple[Ivr, CallContext]) -> None:
    ivr, ctx = world
    sid, doc = _open(ivr, ctx)
    ivr.clock.advance(timedelta(seconds=1700))  # the SMS code was slow
    doc = _identify(ivr, ctx, sid, doc)
    ivr.clock.advance(timedelta(seconds=1700))
    doc = _answer(ivr, ctx, sid, doc, "yes")
    assert doc["end_reason"] is None
    assert ivr.call(sid).answered_at == ivr.clock.now() - timedelta(seconds=1700)
