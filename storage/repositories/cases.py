"""Problem-case (work order) queries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, case, false, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.actor import Actor
from kit.vocab import OPEN_CASE_STATUSES, CaseStatus, SlaStatus
from storage.models import Branch, Case, CaseEvent, Policy
from storage.repositories import chunked
from storage.scope import scoped


def insert_many(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """Insert cases (every row naming the same columns); returns their ids in the rows' order.

    One executemany with RETURNING, its ids sorted back into the rows' order by SQLAlchemy: on PostgreSQL a few
    multi-row INSERTs (an import opens hundreds of cases at once: one statement per row was a round trip
    each), on SQLite one INSERT per row, as before."""
    if not rows:
        return []
    stmt = insert(Case).returning(Case.id, sort_by_parameter_order=True)
    return list(session.connection().execute(stmt, rows).scalars())  # Core: the ORM's bulk insert only costs


def add_events(session: Session, rows: list[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(CaseEvent), rows)


def open_sla(session: Session) -> list[tuple[int, datetime, datetime, SlaStatus]]:
    """(id, warn_at, due_at, sla_status) of every open case, for the SLA sweep."""
    stmt = select(Case.id, Case.warn_at, Case.due_at, Case.sla_status).where(Case.status.in_(OPEN_CASE_STATUSES))
    return [(i, warn, due, status) for i, warn, due, status in session.execute(stmt.order_by(Case.id))]


def move_sla(session: Session, case_ids: Collection[int], before: SlaStatus, after: SlaStatus, *,
             now: datetime) -> list[int]:
    """Set `after` on those of the cases still open and still `before`; returns the ids it moved. A case
    another sweep moved meanwhile is left alone (PostgreSQL re-checks the condition once that sweep commits)."""
    moved: list[int] = []
    for batch in chunked(sorted(case_ids), 400):
        result = session.execute(
            update(Case)
            .where(Case.id.in_(batch), Case.sla_status == before, Case.status.in_(OPEN_CASE_STATUSES))
            .values(sla_status=after)  # not a human change: a form opened before it is not made stale
            .returning(Case.id)
            .execution_options(synchronize_session="fetch")
        )
        moved.extend(result.scalars())
    return moved


def sla_expression(now: datetime) -> ColumnElement[str]:
    """A case's SLA status at `now` in SQL: the rule of cases.sla.case_status, on the stored warn and due
    times (a closed case at its closing time)."""
    at = func.coalesce(Case.closed_at, literal(now, type_=Case.due_at.type))
    return case((at > Case.due_at, SlaStatus.OVERDUE.value), (at >= Case.warn_at, SlaStatus.WARNING.value),
                else_=SlaStatus.NORMAL.value)


def get(session: Session, actor: Actor, case_id: int) -> tuple[Case, str] | None:
    """One case with its branch code, if the actor may see it."""
    stmt = select(Case, Branch.code).join(Branch, Branch.id == Case.branch_id).where(Case.id == case_id)
    row = session.execute(scoped(stmt, actor, Case.branch_id, joined=True)).one_or_none()
    return None if row is None else (row[0], row[1])


def queue(session: Session, actor: Actor, *, now: datetime, month_starts: tuple[datetime, datetime],
          branch_code: str | None = None, case_type: CaseType | None = None, sla: SlaStatus | None = None,
          text: str | None = None, open_only: bool = True, limit: int | None = None,
          offset: int = 0, assigned_to: str | None = None, unassigned: bool = False,
          created_from: datetime | None = None, created_before: datetime | None = None) -> list[tuple[Case, str]]:
    """Cases in processing order (docs/domain.md §9.5): verification cases first; then cases raised since the
    start of last month; then the month before; then older. Within a group, the earliest due first.
    `text` matches the policy number, the applicant's name or the end of a phone number; `assigned_to` the
    handler exactly, `unassigned` cases with none; `created_from`/`created_before` a half-open range of the
    time the case was raised (plain column predicates, so an index on the column can serve them)."""
    last_month, month_before = month_starts
    group = case(
        (Case.type == CaseType.VERIFICATION_CASE, 0),
        (Case.created_at >= last_month, 1),
        (Case.created_at >= month_before, 2),
        else_=3,
    )
    stmt = _filtered(select(Case, Branch.code), actor, now=now, branch_code=branch_code, case_type=case_type,
                     sla=sla, text=text, open_only=open_only, assigned_to=assigned_to, unassigned=unassigned,
                     created_from=created_from, created_before=created_before)
    order = (group, Case.due_at, Case.id)
    if limit is None:
        return [(c, code) for c, code in session.execute(stmt.order_by(*order).offset(offset))]
    # A page: its ids first, ordered from the open cases' index alone (ix_cases_open_queue, no table rows read),
    # then those rows; reading every matching row to order them costs more than the rest of the page.
    page = stmt.with_only_columns(Case.id).order_by(*order).offset(offset).limit(limit)
    rows = select(Case, Branch.code).join(Branch, Branch.id == Case.branch_id).where(
        Case.id.in_(page.scalar_subquery().correlate(None))).order_by(*order)
    return [(c, code) for c, code in session.execute(rows)]


def queue_count(session: Session, actor: Actor, *, now: datetime, branch_code: str | None = None,
                case_type: CaseType | None = None, sla: SlaStatus | None = None, text: str | None = None,
                open_only: bool = True, assigned_to: str | None = None, unassigned: bool = False,
                created_from: datetime | None = None, created_before: datetime | None = None) -> int:
    """How many cases `queue` finds with the same filters (all pages)."""
    stmt = _filtered(select(func.count()).select_from(Case), actor, now=now, branch_code=branch_code,
                     case_type=case_type, sla=sla, text=text, open_only=open_only, assigned_to=assigned_to,
                     unassigned=unassigned, created_from=created_from, created_before=created_before)
    return int(session.execute(stmt).scalar_one())


S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def _filtered(stmt: S, actor: Actor, *, now: datetime, branch_code: str | None, case_type: CaseType | None,
              sla: SlaStatus | None, text: str | None, open_only: bool, assigned_to: str | None,
              unassigned: bool, created_from: datetime | None, created_before: datetime | None) -> S:
    """The queue's statement joined to the branch, in the actor's scope, with the filters that are set."""
    stmt = scoped(stmt.join(Branch, Branch.id == Case.branch_id), actor, Case.branch_id, joined=True)
    if open_only:
        stmt = stmt.where(Case.status.in_(OPEN_CASE_STATUSES))
    if branch_code:
        stmt = stmt.where(Branch.code == branch_code)
    if case_type:
        stmt = stmt.where(Case.type == case_type)
    if sla:
        stmt = stmt.where(sla_expression(now) == sla.value)
    if assigned_to is not None:
        stmt = stmt.where(Case.assigned_to == assigned_to)
    if unassigned:
        stmt = stmt.where(Case.assigned_to.is_(None))
    if created_from is not None:
        stmt = stmt.where(Case.created_at >= created_from)
    if created_before is not None:
        stmt = stmt.where(Case.created_at < created_before)
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        policy = select(Policy.id).where(or_(Policy.policy_no == text, Policy.applicant_name == text,
                                             Policy.applicant_phone.like(f"%{digits[-11:]}") if len(digits) >= 4
                                             else false()))
        stmt = stmt.where(Case.policy_id.in_(policy))
    return stmt


def sla_counts(session: Session, actor: Actor, *, now: datetime) -> dict[str, int]:
    """Open cases per SLA status in the actor's branches (the figures over a queue)."""
    status = sla_expression(now)
    # joins the branches only to scope them: for every branch, the counts read ix_cases_open_queue alone
    stmt = scoped(select(status, func.count()).select_from(Case), actor, Case.branch_id).where(
        Case.status.in_(OPEN_CASE_STATUSES)).group_by(status)
    counts = {s.value: 0 for s in SlaStatus}
    counts.update({str(k): int(n) for k, n in session.execute(stmt)})
    return counts


def events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


CLOSED_ROW = (Case.id, Case.policy_id, Case.type, Case.reason, Case.status, Case.resolution_action)


def close_open(
    session: Session,
    task_reasons: Collection[tuple[int, str]],
    *,
    now: datetime,
    action: str,
    note: str,
) -> list[dict[str, object]]:
    """Close the open cases of the given (task id, reason) pairs; returns the closed cases (CLOSED_ROW's
    columns by name)."""
    closed: list[dict[str, object]] = []
    for batch in chunked(task_reasons, 400):
        result = session.execute(
            update(Case)
            .where(tuple_(Case.task_id, Case.reason).in_(batch), Case.status.in_(OPEN_CASE_STATUSES))
            .values(status=CaseStatus.CLOSED, closed_at=now, updated_at=now,
                    resolution_action=action, resolution_note=note, version_id=Case.version_id + 1)
            .returning(*CLOSED_ROW)
            .execution_options(synchronize_session="fetch")
        )
        closed.extend(dict(row._mapping) for row in result)
    return closed


def close_ids(session: Session, case_ids: Collection[int], *, now: datetime, action: str,
              note: str) -> list[dict[str, object]]:
    """Close the cases among `case_ids` still open; returns them (CLOSED_ROW's columns by name)."""
    if not case_ids:
        return []
    result = session.execute(
        update(Case)
        .where(Case.id.in_(list(case_ids)), Case.status.in_(OPEN_CASE_STATUSES))
        .values(status=CaseStatus.CLOSED, closed_at=now, updated_at=now, resolution_action=action,
                resolution_note=note, version_id=Case.version_id + 1)
        .returning(*CLOSED_ROW)
        .execution_options(synchronize_session="fetch")
    )
    return [dict(row._mapping) for row in result]


def for_policy(session: Session, actor: Actor, policy_id: int) -> list[tuple[Case, str]]:
    stmt = (
        select(Case, Branch.code)
        .join(Branch, Branch.id == Case.branch_id)
        .where(Case.policy_id == policy_id)
        .order_by(Case.created_at, Case.id)
    )
    return [(c, code) for c, code in session.execute(scoped(stmt, actor, Case.branch_id, joined=True))]


def open_for_policy(session: Session, policy_id: int) -> list[Case]:
    stmt = select(Case).where(Case.policy_id == policy_id, Case.status.in_(OPEN_CASE_STATUSES)).order_by(Case.id)
    return list(session.scalars(stmt))
