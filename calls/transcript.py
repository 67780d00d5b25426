"""A call's record as people read it, turn by turn: what the robot said, what the caller answered (the
recognised answer, the raw text and its confidence, or the keys), the hand-off and the agent's word.

Shared by the policy page, the agent desk and the quality review. Keys typed for the identity check (a birthday) are hidden, as
the ID number is: the page shows that they were typed, not what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.models import CallEvent

SHOWN = ("prompt", "answer", "handoff", "dial", "outcome", "message")


@dataclass(frozen=True)
class Line:
    at: datetime
    who: str  # robot | caller | agent | twilio
    kind: str  # one of SHOWN
    topic: str | None
    text: str  # what the robot said, the words recognised, the agent's note
    answer: str | None = None  # how an answer was taken: yes, no, digits, silence, … (flows.engine.InputKind)
    keys: str | None = None  # keys pressed ("****" for the identity check)
    confidence: float | None = None
    status: str | None = None  # a dial's result, the agent's outcome


def _keys(event: CallEvent) -> str | None:
    digits = str(event.detail.get("digits") or "")
    if not digits:
        return None
    return "*" * len(digits) if event.topic == "identity" and len(digits) > 1 else digits


def line(event: CallEvent) -> Line:
    detail = event.detail or {}
    if event.kind == "answer":
        confidence = detail.get("confidence")
        return Line(event.at, event.who, event.kind, event.topic, event.text, answer=detail.get("input"),
                    keys=_keys(event), confidence=float(confidence) if confidence is not None else None)
    if event.kind == "dial":
        return Line(event.at, event.who, event.kind, event.topic, "", status=event.text)
    if event.kind == "outcome":
        return Line(event.at, event.who, event.kind, event.topic, event.text, status=detail.get("outcome"))
    if event.kind == "handoff":
        return Line(event.at, event.who, event.kind, event.topic, "",
                    status="unavailable" if detail.get("DialCallStatus") else None)
    return Line(event.at, event.who, event.kind, event.topic, event.text)


def transcript(events: Iterable[CallEvent]) -> list[Line]:
    """The lines a person reads, in the call's order (status reports and recording notices left out)."""
    return [line(e) for e in events if e.kind in SHOWN]
