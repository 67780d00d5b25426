"""Recording integration events: the outbox row is written in the same transaction as the change it reports.

`record` is called from the one place each change happens — a task's result (tasks.lifecycle.apply, through
`task_outcome_changed`) and a case opening or closing (cases.service) — and only flushes with the caller's
transaction: a change that rolls back leaves no event, a committed one always has its event. Nothing is sent
here (architecture invariant 2): the sender (notifications.sender) and the feed (integration.feed) read the rows
after they committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from kit.clock import isoformat_local
from storage.models import CallbackTask, IntegrationEvent, Policy


class EventType(StrEnum):
    TASK_RESULT = "task.result"  # a task got, changed or lost its result, or was cancelled
    CASE_OPENED = "case.opened"
    CASE_CLOSED = "case.closed"  # closed or cancelled (data.status says which)


def record(session: Session, type: str, policy_no: str, payload: Mapping[str, Any], *,
           now: datetime) -> IntegrationEvent:
    """Add one event to the caller's transaction (flushed with it, committed or rolled back with it)."""
    event = IntegrationEvent(event_id=str(uuid.uuid4()), type=str(EventType(type)), policy_no=policy_no,
                             payload=dict(payload), created_at=now, attempts=0)
    session.add(event)
    return event


Outcome = tuple[str | None, tuple[str, ...], str | None]


def task_outcome(task: CallbackTask) -> Outcome:
    """What the core system knows of a task: its result, reason codes, and whether it is finished or cancelled
    (a task being dialled, retried or held has no outcome yet)."""
    status = task.status.value if task.status is not None else None
    final = status if status in ("completed", "cancelled") else None
    result = task.result_class.value if task.result_class is not None else None
    return result, tuple(task.reason_codes or ()), final


def task_outcome_changed(task: CallbackTask, before: Outcome, *, now: datetime) -> IntegrationEvent | None:
    """Record `task.result` when the task's outcome changed (tasks.lifecycle.apply calls it after every
    transition). A task in no session (a pure rule test) persists nothing, so nothing is recorded for it."""
    after = task_outcome(task)
    session = object_session(task)
    if after == before or session is None:
        return None
    policy = session.get(Policy, task.policy_id)
    if policy is None:
        raise ValueError(f"task {task.id}: policy {task.policy_id} not found")
    return record(session, EventType.TASK_RESULT, policy.policy_no, {
        "task_status": task.status.value,
        "result_class": after[0],
        "reason_codes": list(after[1]),
        "previous_result_class": before[0],
        "channel": task.channel.value if task.channel is not None else None,
        "attempts": task.attempts,
        "completed_at": isoformat_local(task.completed_at) if task.completed_at else None,
        "deadline": task.deadline.isoformat() if task.deadline else None,
    }, now=now)


def cases_changed(session: Session, type: EventType, cases: Iterable[Mapping[str, Any]], *,
                  now: datetime) -> list[IntegrationEvent]:
    """Record `case.opened` or `case.closed` for each case (a mapping with id, policy_id, type, reason, status
    and, when closed, resolution_action): one query for the policies' numbers."""
    rows = list(cases)
    if not rows:
        return []
    policy_ids = sorted({int(c["policy_id"]) for c in rows})
    numbers = {pk: no for pk, no in session.execute(select(Policy.id, Policy.policy_no).where(Policy.id.in_(policy_ids)))}
    events = []
    for c in rows:
        data: dict[str, Any] = {"case_id": c["id"], "case_type": _value(c["type"]), "reason": c["reason"],
                                "status": _value(c["status"])}
        if type is EventType.CASE_OPENED:
            data["due_at"] = isoformat_local(c["due_at"]) if c.get("due_at") else None
        else:
            data["resolution_action"] = c.get("resolution_action")
        events.append(record(session, type, numbers[int(c["policy_id"])], data, now=now))
    return events


def _value(v: Any) -> Any:
    return v.value if isinstance(v, StrEnum) else v
