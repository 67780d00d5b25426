"""Opening and closing cases. Services flush; the caller commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cases.sla import due_at
from kit.calendar import BusinessCalendar
from kit.settings import CaseSettings
from kit.vocab import CaseStatus, CaseType
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


def open_cases(
    session: Session,
    new_cases: Sequence[NewCase],
    *,
    now: datetime,
    settings: CaseSettings,
    calendar: BusinessCalendar,
) -> int:
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
            "due_at": due_at(now, settings.sla[c.type], calendar),
            "created_at": now,
            "updated_at": now,
        }
        for c in new_cases
    ]
    return case_repo.insert_many(session, rows)


def close_cases_for_tasks(
    session: Session, task_reasons: Collection[tuple[int, str]], *, now: datetime, action: str, note: str
) -> int:
    return case_repo.close_open(session, task_reasons, now=now, action=action, note=note)


def close_case_ids(session: Session, case_ids: Collection[int], *, now: datetime, action: str, note: str) -> int:
    return case_repo.close_ids(session, case_ids, now=now, action=action, note=note)
