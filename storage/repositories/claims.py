"""Claiming due callback tasks for a dialer. PostgreSQL: FOR UPDATE SKIP LOCKED, so dialers never wait on
or take each other's rows; SQLite (one dialer): its write lock serialises the claim."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from kit.vocab import TaskStatus
from storage.models import Call, CallbackTask, Policy

ACTIVE = (TaskStatus.DIALING, TaskStatus.IN_PROGRESS)


def in_flight(session: Session, now: datetime) -> int:
    """Tasks being dialled or on a call under a live lease (every dialer's)."""
    return session.scalar(
        select(func.count()).select_from(CallbackTask)
        .where(CallbackTask.status.in_(ACTIVE), CallbackTask.lease_expires_at >= now)
    ) or 0


def _queued_due(now: datetime, today: date) -> ColumnElement[bool]:
    """Queued, open, its next attempt and its appointment (if any) due."""
    return and_(
        CallbackTask.status == TaskStatus.QUEUED,
        CallbackTask.opens_on <= today,
        or_(CallbackTask.next_attempt_at.is_(None), CallbackTask.next_attempt_at <= now),
        or_(CallbackTask.appointment_at.is_(None), CallbackTask.appointment_at <= now),
    )


def due_backlog(session: Session, now: datetime, today: date) -> int:
    """Queued tasks due now that no dialer has claimed yet (the dialers' backlog, calling hours aside)."""
    return session.scalar(select(func.count()).select_from(CallbackTask).where(_queued_due(now, today))) or 0


def claimable(session: Session, *, now: datetime, today: date, limit: int, window_open: bool,
              lock: bool) -> list[CallbackTask]:
    """Due tasks in priority order: appointments due now, then the earliest deadline, then the fewest attempts.

    Outside the calling window only appointments that are due; always tasks whose lease ran out (a dialer
    died holding them, or a call's end was never reported).
    """
    appointment_due = and_(CallbackTask.appointment_at.is_not(None), CallbackTask.appointment_at <= now)
    queued_due = _queued_due(now, today)
    expired = and_(CallbackTask.status.in_(ACTIVE), CallbackTask.lease_expires_at < now)
    due = and_(queued_due, appointment_due) if not window_open else queued_due
    stmt = (
        select(CallbackTask)
        .where(or_(due, expired))
        .order_by(case((appointment_due, 0), else_=1), CallbackTask.deadline, CallbackTask.attempts, CallbackTask.id)
        .limit(limit)
    )
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def expired_unregistered(session: Session, now: datetime, *, limit: int) -> list[tuple[int, str, datetime]]:
    """Claims that ran out while dialing with no call registered for the task since the claim (its placement
    is unknown): (task id, the applicant's phone, the claim's time), oldest claim first."""
    registered = exists().where(Call.task_id == CallbackTask.id, Call.created_at >= CallbackTask.claimed_at)
    stmt = (
        select(CallbackTask.id, Policy.applicant_phone, CallbackTask.claimed_at)
        .join(Policy, Policy.id == CallbackTask.policy_id)
        .where(CallbackTask.status == TaskStatus.DIALING, CallbackTask.lease_expires_at < now,
               CallbackTask.claimed_at.is_not(None), ~registered)
        .order_by(CallbackTask.claimed_at, CallbackTask.id)
        .limit(limit)
    )
    return [(task_id, phone, claimed_at) for task_id, phone, claimed_at in session.execute(stmt)
            if claimed_at is not None]
