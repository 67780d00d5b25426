"""Recording queries: the retry job's, and the compliance desk's reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from kit.vocab import RecordingStatus
from storage.models import AuditEvent, Branch, Call, Policy, Recording


def by_sid(session: Session, recording_sid: str) -> Recording | None:
    return session.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).one_or_none()


def for_call(session: Session, call_id: int) -> list[Recording]:
    return list(session.scalars(select(Recording).where(Recording.call_id == call_id).order_by(Recording.id)))


def pending_due(session: Session, now: datetime, limit: int = 100) -> list[tuple[Recording, Call, Policy]]:
    """Recordings not stored yet whose next try is due, oldest first."""
    stmt = (
        select(Recording, Call, Policy)
        .join(Call, Call.id == Recording.call_id)
        .join(Policy, Policy.id == Call.policy_id)
        .where(Recording.status == RecordingStatus.PENDING,
               or_(Recording.next_try_at.is_(None), Recording.next_try_at <= now))
        .order_by(Recording.id)
        .limit(limit)
    )
    return [(r, c, p) for r, c, p in session.execute(stmt)]


def matching(session: Session, *, policy_no: str | None = None, phone_suffix: str | None = None,
             called_from: datetime | None = None, called_before: datetime | None = None,
             branch_code: str | None = None,
             result_class: ResultClass | None = None) -> list[tuple[Recording, Call, Policy]]:
    """Recordings with their call and policy, by call time then recording; every given filter applies."""
    stmt = (select(Recording, Call, Policy).join(Call, Call.id == Recording.call_id)
            .join(Policy, Policy.id == Call.policy_id).join(Branch, Branch.id == Policy.branch_id))
    if policy_no:
        stmt = stmt.where(Policy.policy_no == policy_no)
    if phone_suffix is not None:
        stmt = stmt.where(Policy.applicant_phone.like(f"%{phone_suffix}"))
    if called_from is not None:
        stmt = stmt.where(Call.created_at >= called_from)
    if called_before is not None:
        stmt = stmt.where(Call.created_at < called_before)
    if branch_code:
        stmt = stmt.where(Branch.code == branch_code)
    if result_class:
        stmt = stmt.where(Call.result_class == result_class)
    return [(r, c, p) for r, c, p in session.execute(stmt.order_by(Call.created_at, Recording.id))]


def stored(session: Session) -> list[Recording]:
    return list(session.scalars(select(Recording).where(Recording.status == RecordingStatus.STORED)))


def stored_with_policy(session: Session, recording_sid: str | None = None) -> list[tuple[Recording, Policy]]:
    """Stored recordings (all, or the one named) with their policy."""
    stmt = (select(Recording, Policy).join(Call, Call.id == Recording.call_id).join(Policy, Policy.id == Call.policy_id)
            .where(Recording.status == RecordingStatus.STORED))
    if recording_sid:
        stmt = stmt.where(Recording.recording_sid == recording_sid)
    return [(r, p) for r, p in session.execute(stmt)]


def for_policy(session: Session, policy_id: int) -> list[Recording]:
    return list(session.scalars(select(Recording).join(Call, Call.id == Recording.call_id)
                                .where(Call.policy_id == policy_id)))


def audit_events(session: Session, limit: int) -> list[AuditEvent]:
    """The audit trail, newest first."""
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
