"""Call and call-event queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.vocab import OPEN_CASE_STATUSES, CallOutcome
from storage.models import Call, CallbackTask, CallEvent, Case, Policy


def by_sid(session: Session, call_sid: str, *, lock: bool = False) -> Call | None:
    """The call; with lock, its row is locked until the transaction ends (one webhook at a time per call)."""
    stmt = select(Call).where(Call.call_sid == call_sid)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def with_task_and_policy(session: Session, call_sid: str) -> tuple[Call, CallbackTask, Policy] | None:
    """The call (its row locked, as `by_sid(lock=True)`) with its task and policy, in one query."""
    stmt = (select(Call, CallbackTask, Policy).join(CallbackTask, CallbackTask.id == Call.task_id)
            .join(Policy, Policy.id == Call.policy_id).where(Call.call_sid == call_sid)
            .with_for_update(of=(Call, CallbackTask)))
    row = session.execute(stmt).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def turn_of(session: Session, call_sid: str) -> tuple[int, bool] | None:
    """(turn number, ended) of the call without loading it: a cheap check before slow work."""
    row = session.execute(select(Call.turn_seq, Call.end_reason).where(Call.call_sid == call_sid)).one_or_none()
    return None if row is None else (row[0], row[1] is not None)


def state_of(session: Session, call_sid: str) -> dict[str, Any] | None:
    """The call's stored flow state alone (None: no such call, or no flow started)."""
    state: dict[str, Any] | None = session.scalar(select(Call.state).where(Call.call_sid == call_sid))
    return state


def has_event(session: Session, call_id: int, kind: str, text: str) -> bool:
    """Whether the call's record holds an event of this kind and text."""
    stmt = select(CallEvent.id).where(CallEvent.call_id == call_id, CallEvent.kind == kind, CallEvent.text == text)
    return session.scalar(stmt.limit(1)) is not None


def for_policy(session: Session, policy_id: int) -> list[Call]:
    return list(session.scalars(select(Call).where(Call.policy_id == policy_id).order_by(Call.id)))


def add_events(session: Session, call: Call, at: datetime, events: Sequence[dict[str, Any]]) -> None:
    """Append events (who, kind, topic, text, detail) to the call's record, numbered in order."""
    start = call.event_count + 1  # the call row is locked by the webhook that adds to it
    session.add_all(
        CallEvent(call_id=call.id, seq=start + offset, at=at, who=event["who"], kind=event["kind"],
                  topic=event.get("topic"), text=event.get("text", ""), detail=event.get("detail", {}))
        for offset, event in enumerate(events)
    )
    call.event_count += len(events)


def events(session: Session, call_id: int) -> list[CallEvent]:
    return list(session.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)))


def open_cases_of_call(session: Session, call_id: int) -> list[Case]:
    stmt = select(Case).where(Case.call_id == call_id, Case.status.in_(OPEN_CASE_STATUSES)).order_by(Case.id)
    return list(session.scalars(stmt))


def for_task(session: Session, task_id: int) -> list[Call]:
    return list(session.scalars(select(Call).where(Call.task_id == task_id).order_by(Call.id)))


def registered_since(session: Session, task_id: int, since: datetime) -> Call | None:
    """The first call registered for the task at or after `since` (a claim's placement that did happen)."""
    stmt = select(Call).where(Call.task_id == task_id, Call.created_at >= since).order_by(Call.id).limit(1)
    return session.scalars(stmt).first()


def create(session: Session, *, call_sid: str, task_id: int, policy_id: int, now: datetime) -> Call:
    """A new call row for a task (placed by the dialer, or first seen in a webhook)."""
    call = Call(call_sid=call_sid, task_id=task_id, policy_id=policy_id, twilio_status="queued", status_rank=0,
                attempt_counted=False, outcome=CallOutcome.IN_PROGRESS, turn_seq=0, event_count=0, reason_codes=[],
                created_at=now, updated_at=now)
    session.add(call)
    session.flush()
    return call


def open_cases_of_task(session: Session, task_id: int) -> list[Case]:
    stmt = select(Case).where(Case.task_id == task_id, Case.status.in_(OPEN_CASE_STATUSES)).order_by(Case.id)
    return list(session.scalars(stmt))
