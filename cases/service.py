"""Opening and closing cases. Services flush; the caller commits.

Every case opens in `open_cases` and closes in `close_case`, `close_cases_for_tasks` or `close_case_ids`: each
records its `case.opened` / `case.closed` integration event in the same transaction (integration.events)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cases.sla import due_at, status_at, warn_at
from flows.vocab import CaseType
from integration.events import EventType, cases_changed
from kit.calendar import BusinessCalendar
from kit.settings import CaseSettings
from kit.vocab import CaseStatus, SlaStatus
from storage.models import Case
from storage.repositories import cases as case_repo


@dataclass(frozen=True)
class NewCase:
    policy_id: int
    task_id: int | None
    branch_id: int
    type: CaseType
    reason: str
    detail: str  # zh-CN, for branch staff
    call_id: int | None = None  # the call that raised it


SYSTEM = "system"


def open_cases(
    session: Session,
    new_cases: Sequence[NewCase],
    *,
    now: datetime,
    settings: CaseSettings,
    calendar: BusinessCalendar,
) -> int:
    dues = [due_at(now, settings.sla[c.type], calendar) for c in new_cases]
    rows: list[dict[str, object]] = [
        {
            "policy_id": c.policy_id,
            "task_id": c.task_id,
            "branch_id": c.branch_id,
            "call_id": c.call_id,
            "type": c.type,
            "reason": c.reason,
            "status": CaseStatus.OPEN,
            "detail": c.detail,
            "due_at": due,
            "warn_at": warn_at(now, due, settings),
            "sla_status": SlaStatus.NORMAL,
            "created_at": now,
            "updated_at": now,
        }
        for c, due in zip(new_cases, dues, strict=True)
    ]
    ids = case_repo.insert_many(session, rows)
    case_repo.add_events(session, [{"case_id": i, "at": now, "who": SYSTEM, "action": "opened", "note": c.detail}
                                   for i, c in zip(ids, new_cases, strict=True)])
    cases_changed(session, EventType.CASE_OPENED, [{**row, "id": i} for i, row in zip(ids, rows, strict=True)],
                  now=now)
    return len(ids)


def sweep(session: Session, *, now: datetime, settings: CaseSettings) -> dict[str, int]:
    """Keep every open case's SLA status current (rule 32); each change goes into the case's history.

    Safe when two sweeps overlap (two processes, or the CLI beside the dialer): a case moves only if its
    status is still the one this sweep read (a conditional update), so a change is recorded once."""
    moves: defaultdict[tuple[SlaStatus, SlaStatus], list[int]] = defaultdict(list)
    for case_id, warn, due, current in case_repo.open_sla(session):
        status = status_at(now, warn, due)
        if status is not current:
            moves[(current, status)].append(case_id)
    changed: Counter[str] = Counter()
    events: list[dict[str, object]] = []
    for (before, after), case_ids in moves.items():
        for case_id in case_repo.move_sla(session, case_ids, before, after, now=now):
            events.append({"case_id": case_id, "at": now, "who": SYSTEM, "action": f"sla_{after.value}",
                           "note": f"{before.value} → {after.value}"})
            changed[after.value] += 1
    case_repo.add_events(session, events)
    session.flush()
    return {status.value: changed[status.value] for status in SlaStatus}


def close_cases_for_tasks(
    session: Session, task_reasons: Collection[tuple[int, str]], *, now: datetime, action: str, note: str
) -> int:
    closed = case_repo.close_open(session, task_reasons, now=now, action=action, note=note)
    cases_changed(session, EventType.CASE_CLOSED, closed, now=now)
    return len(closed)


def close_case_ids(session: Session, case_ids: Collection[int], *, now: datetime, action: str, note: str) -> int:
    closed = case_repo.close_ids(session, case_ids, now=now, action=action, note=note)
    cases_changed(session, EventType.CASE_CLOSED, closed, now=now)
    return len(closed)


def close_case(session: Session, case: Case, status: CaseStatus, *, now: datetime, action: str,
               note: str | None) -> None:
    """Close (or cancel) one loaded case by a branch's handling (cases.actions)."""
    case.status, case.closed_at, case.updated_at = status, now, now
    case.resolution_action, case.resolution_note = action, note
    cases_changed(session, EventType.CASE_CLOSED, [{"id": case.id, "policy_id": case.policy_id, "type": case.type,
                                                   "reason": case.reason, "status": status,
                                                   "resolution_action": action}], now=now)
