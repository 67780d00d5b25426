"""Recording queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kit.vocab import RecordingStatus
from storage.models import Call, Policy, Recording


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
