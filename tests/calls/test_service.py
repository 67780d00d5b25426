"""The calls service driven directly, as a WebSocket worker or another channel would: no HTTP, no TwiML."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine

from calls import service as calls
from calls.context import CallContext
from calls.errors import CallConflict, UnknownCall
from calls.inputs import Answered, Heard
from flows.engine import CallerInput, InputKind, Turn
from kit.vocab import TaskStatus
from speech.cache import PromptCache
from storage.db import unit_of_work
from tests.ivr.conftest import BIRTHDAY, Ivr, build_ivr, sid

WS = sid("CA-ws")  # a call driven by a WebSocket worker, placed by the dialer


@dataclass
class Recorder:
    """A channel that renders nothing: it keeps each turn it was asked to render."""

    turns: list[tuple[int, Turn]] = field(default_factory=list)

    def turn(self, turn: Turn, language: str, seq: int, call: object = None) -> str:
        self.turns.append((seq, turn))
        return f"turn {seq}: " + " / ".join(p.text[:8] for p in turn.prompts)

    def hangup(self) -> str:
        return "hangup"


@pytest.fixture
def channel(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> tuple[Ivr, CallContext, Recorder]:
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True)
    recorder = Recorder()
    return ivr, dataclasses.replace(ivr.svc.calls, responder=recorder), recorder


def _keys(digits: str) -> Heard:
    return Heard(CallerInput(InputKind.DIGITS, digits=digits), {"source": "test"})


def test_a_whole_call_through_advance(channel: tuple[Ivr, CallContext, Recorder]) -> None:
    ivr, ctx, recorder = channel
    sessions = ivr.svc.sessions
    ivr.place(WS, to="+8613700000001")
    with unit_of_work(sessions) as session:
        first = calls.start(session, ctx, Answered(WS, ivr.task_id, "human", "+8613700000001"))
        session.commit()
    assert first.startswith("turn 1: ")
    seq, inputs = 1, ["1", BIRTHDAY]
    while seq < 40:
        heard = _keys(inputs.pop(0) if inputs else "1")
        with unit_of_work(sessions) as session:
            document = calls.advance(session, ctx, WS, seq, heard)
            session.commit()
        if recorder.turns[-1][1].ended:
            break
        seq += 1
    assert recorder.turns[-1][1].ended
    assert document.startswith(f"turn {seq + 1}")
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "standard")
    assert task.claimed_by is None
    assert task.lease_expires_at is None
    call = ivr.call(WS)
    assert (call.dialled_number, call.result_class) == ("+8613700000001", "standard")
    # the same input again replays the stored document and changes nothing
    with unit_of_work(sessions) as session:
        assert calls.advance(session, ctx, WS, seq, _keys("2")) == document
        session.commit()
    assert ivr.call(WS).event_count == call.event_count


def test_domain_errors_carry_no_http(channel: tuple[Ivr, CallContext, Recorder]) -> None:
    ivr, ctx, _ = channel
    with unit_of_work(ivr.svc.sessions) as session:
        with pytest.raises(UnknownCall, match="unknown CallSid 'CA-none'"):
            calls.advance(session, ctx, "CA-none", 1, _keys("1"))
        with pytest.raises(UnknownCall, match=f"CallSid '{WS}' was not placed for task {ivr.task_id}"):
            calls.start(session, ctx, Answered(WS, ivr.task_id))
    ivr.place(WS)
    with unit_of_work(ivr.svc.sessions) as session:
        calls.start(session, ctx, Answered(WS, ivr.task_id))
        with pytest.raises(CallConflict, match=f"turn 7 of call {WS} is stale"):
            calls.advance(session, ctx, WS, 7, _keys("1"))
    assert not hasattr(UnknownCall("x"), "status")
