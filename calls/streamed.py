"""Answers heard on a call's audio stream, and the stream failing: the call rules' side of streamed capture.

A streamed answer races the caller's keys and the <Gather> timeout for the same turn. Whichever reaches the
call's locked row first while the turn is still current takes it (`calls.service.advance`); `answer` is the
compare-and-set for the stream: it changes nothing, and returns None, unless turn `seq` is the call's current
turn and that turn listens for a spoken answer. The caller of these functions owns the transaction and does
the network I/O (the REST redirect of the live call) after it has committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from calls.context import CallContext
from calls.inputs import Heard
from calls.service import advance, load
from kit.vocab import CallOutcome
from storage.models import Call
from storage.repositories import calls as call_repo

STREAM, RECORD = "stream", "record"


def listening(call: Call) -> bool:
    """Whether the call's current turn is waiting for a spoken answer right now."""
    return (call.outcome is CallOutcome.IN_PROGRESS and call.end_reason is None and call.speech_seq is not None
            and call.speech_seq == call.turn_seq)


def answer(session: Session, ctx: CallContext, call_sid: str, seq: int, heard: Heard) -> str | None:
    """The stream heard an answer to turn `seq`: the document to move the live call to, or None when the turn
    was already taken (a key, the <Gather> timeout) or does not listen for speech: then nothing changes."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None or call.capture != STREAM or call.turn_seq != seq or not listening(call):
        return None
    return advance(session, ctx, call_sid, seq, heard)


def call_of(session: Session, call_sid: str) -> Call:
    """The call (locked) a streamed answer was just taken for."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    assert call is not None
    return call


def started(session: Session, call_sid: str, now: datetime, detail: dict[str, Any]) -> Call | None:
    """The call's stream started (its `start` message): kept with the call's record. None: not a streamed call."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None or call.capture != STREAM or call.end_reason is not None:
        return None
    call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "stream", "text": "started",
                                               "detail": detail}])
    return call


@dataclass(frozen=True)
class Listening:
    """Where a streamed call stands, as its stream reads it (no lock taken)."""

    seq: int  # the call's current turn
    listening: bool  # that turn waits for a spoken answer
    streamed: bool  # the call still takes its answers from the stream


def where(session: Session, call_sid: str) -> Listening | None:
    call = call_repo.by_sid(session, call_sid)
    if call is None:
        return None
    return Listening(call.turn_seq, listening(call), call.capture == STREAM)


def stream_started(session: Session, call: Call) -> bool:
    """Whether a stream of this call has started (an event kept by `started`)."""
    return call_repo.has_event(session, call.id, "stream", "started")


def record_instead(session: Session, ctx: CallContext, call_sid: str, reason: str) -> str | None:
    """The call's stream failed (no start, an error, decoding fell behind): its remaining questions are
    recorded. Returns the current question again with <Record> to redirect the live call to, when the call
    is waiting for a spoken answer now; None when there is nothing to redirect (or it records already)."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None or call.capture != STREAM or call.end_reason is not None or call.outcome is not CallOutcome.IN_PROGRESS:
        return None  # nothing to change: another fallback came first, or the call is over
    now = ctx.clock.now()
    call.capture = RECORD
    call.updated_at = now
    call_repo.add_events(session, call, now, [{"who": "robot", "kind": "stream", "text": "record_instead",
                                               "detail": {"reason": reason}}])
    if not listening(call):
        return None
    loaded = load(session, ctx, call_sid)
    turn = loaded.engine.again(loaded.state)
    document = ctx.responder.turn(turn, loaded.engine.flow.language, call.turn_seq, call)
    call.last_twiml = document  # the same turn number: a key or a recording still answers turn `seq`
    return document
