"""Problem-case (work order) queries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from kit.vocab import OPEN_CASE_STATUSES, CaseStatus
from storage.models import Branch, Case
from storage.repositories import chunked


def insert_many(session: Session, rows: list[dict[str, object]]) -> int:
    if rows:
        session.execute(insert(Case), rows)
    return len(rows)


def close_open(
    session: Session,
    task_reasons: Collection[tuple[int, str]],
    *,
    now: datetime,
    action: str,
    note: str,
) -> int:
    """Close the open cases of the given (task id, reason) pairs."""
    closed = 0
    for batch in chunked(task_reasons, 400):
        result = session.execute(
            update(Case)
            .where(tuple_(Case.task_id, Case.reason).in_(batch), Case.status.in_(OPEN_CASE_STATUSES))
            .values(status=CaseStatus.CLOSED, closed_at=now, updated_at=now,
                    resolution_action=action, resolution_note=note)
        )
        closed += result.rowcount or 0  # type: ignore[attr-defined]
    return closed


def close_ids(session: Session, case_ids: Collection[int], *, now: datetime, action: str, note: str) -> int:
    if not case_ids:
        return 0
    result = session.execute(
        update(Case)
        .where(Case.id.in_(list(case_ids)), Case.status.in_(OPEN_CASE_STATUSES))
        .values(status=CaseStatus.CLOSED, closed_at=now, updated_at=now, resolution_action=action,
                resolution_note=note)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def for_policy(session: Session, policy_id: int) -> list[tuple[Case, str]]:
    stmt = (
        select(Case, Branch.code)
        .join(Branch, Branch.id == Case.branch_id)
        .where(Case.policy_id == policy_id)
        .order_by(Case.created_at, Case.id)
    )
    return list(session.execute(stmt))
