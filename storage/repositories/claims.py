"""Claiming due callback tasks for a dialer. PostgreSQL: FOR UPDATE SKIP LOCKED, so dialers never wait on
or take each other's rows; SQLite (one dialer): its write lock serialises the claim."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from kit.vocab import CallbackChannel, ProductType, TaskStatus
from storage.models import Branch, Call, CallbackTask, Policy

ACTIVE = (TaskStatus.DIALING, TaskStatus.IN_PROGRESS)
PauseScope = tuple[str | None, ProductType | None]  # (branch code, product type); None: every one


def paused(scopes: Sequence[PauseScope]) -> ColumnElement[bool]:
    """Whether a task falls under one of the pauses in force (dialer.controls): its policy's branch and product
    type match a pause's (a pause's None matches every one)."""
    if not scopes:
        return false()
    policy = aliased(Policy)  # its own: the query it goes into may join the task's policy already
    matches: list[ColumnElement[bool]] = []
    for branch, product_type in scopes:
        parts: list[ColumnElement[bool]] = []
        if branch is not None:
            parts.append(policy.branch_id.in_(select(Branch.id).where(Branch.code == branch).scalar_subquery()))
        if product_type is not None:
            parts.append(policy.product_type == product_type)
        if not parts:
            return true()  # calling is paused for all
        matches.append(and_(*parts))
    return exists().where(policy.id == CallbackTask.policy_id, or_(*matches))


def in_flight(session: Session, now: datetime) -> int:
    """Tasks being dialled or on a call under a live lease (every dialer's)."""
    return session.scalar(
        select(func.count()).select_from(CallbackTask)
        .where(CallbackTask.status.in_(ACTIVE), CallbackTask.lease_expires_at >= now)
    ) or 0


def _queued_due(now: datetime, today: date) -> ColumnElement[bool]:
    """Queued on the phone channel, open, its next attempt and its appointment (if any) due."""
    return and_(
        CallbackTask.status == TaskStatus.QUEUED,
        CallbackTask.channel == CallbackChannel.PHONE,
        CallbackTask.opens_on <= today,
        or_(CallbackTask.next_attempt_at.is_(None), CallbackTask.next_attempt_at <= now),
        or_(CallbackTask.appointment_at.is_(None), CallbackTask.appointment_at <= now),
    )


def due_backlog(session: Session, now: datetime, today: date,
                pauses: Sequence[PauseScope] | None = None) -> int:
    """Queued tasks due now that no dialer has claimed yet (the dialers' backlog, calling hours aside); with
    `pauses`, only those of them that the pauses hold back."""
    where = _queued_due(now, today)
    if pauses is not None:
        where = and_(where, paused(pauses))
    return session.scalar(select(func.count()).select_from(CallbackTask).where(where)) or 0


def claimable(session: Session, *, now: datetime, today: date, limit: int, window_open: bool,
              lock: bool, pauses: Sequence[PauseScope] = ()) -> list[CallbackTask]:
    """Due tasks in priority order: appointments due now, then the earliest deadline, then the fewest attempts.

    Outside the calling window only appointments that are due; always tasks whose lease ran out (a dialer
    died holding them, or a call's end was never reported). Tasks under a pause wait: neither claimed nor
    taken over from a dead dialer's claim (the call they might lead to is not placed); a call whose end was
    never reported is still re-queued (no call is placed for that).
    """
    appointment_due = and_(CallbackTask.appointment_at.is_not(None), CallbackTask.appointment_at <= now)
    queued_due = _queued_due(now, today)
    expired_dialing = and_(CallbackTask.status == TaskStatus.DIALING, CallbackTask.lease_expires_at < now)
    expired_on_call = and_(CallbackTask.status == TaskStatus.IN_PROGRESS, CallbackTask.lease_expires_at < now)
    due = and_(queued_due, appointment_due) if not window_open else queued_due
    if pauses:
        held_back = paused(pauses)
        due, expired_dialing = and_(due, ~held_back), and_(expired_dialing, ~held_back)
    stmt = (
        select(CallbackTask)
        .where(or_(due, expired_dialing, expired_on_call))
        .order_by(case((appointment_due, 0), else_=1), CallbackTask.deadline, CallbackTask.attempts, CallbackTask.id)
        .limit(limit)
    )
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def expired_unregistered(session: Session, now: datetime, *, limit: int,
                         pauses: Sequence[PauseScope] = ()) -> list[tuple[int, str, datetime]]:
    """Claims that ran out while dialing with no call registered for the task since the claim (its placement
    is unknown): (task id, the applicant's phone, the claim's time), oldest claim first; none under a pause
    (they wait, and are looked up when claimable again)."""
    registered = exists().where(Call.task_id == CallbackTask.id, Call.created_at >= CallbackTask.claimed_at)
    stmt = (
        select(CallbackTask.id, Policy.applicant_phone, CallbackTask.claimed_at)
        .join(Policy, Policy.id == CallbackTask.policy_id)
        .where(CallbackTask.status == TaskStatus.DIALING, CallbackTask.lease_expires_at < now,
               CallbackTask.claimed_at.is_not(None), ~registered)
        .order_by(CallbackTask.claimed_at, CallbackTask.id)
        .limit(limit)
    )
    if pauses:
        stmt = stmt.where(~paused(pauses))
    return [(task_id, phone, claimed_at) for task_id, phone, claimed_at in session.execute(stmt)
            if claimed_at is not None]
