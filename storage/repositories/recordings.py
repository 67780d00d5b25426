"""Recording queries: the downloaders' claims, and the compliance desk's reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from kit.actor import Actor
from kit.vocab import RecordingStatus
from storage.models import AuditEvent, Branch, Call, Policy, Recording
from storage.scope import scoped


def by_sid(session: Session, recording_sid: str) -> Recording | None:
    return session.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).one_or_none()


def with_call_and_policy_for(session: Session, actor: Actor,
                             recording_sid: str) -> tuple[Recording, Call, Policy] | None:
    """The recording with its call and policy, if the policy is in the actor's branches."""
    stmt = (select(Recording, Call, Policy).join(Call, Call.id == Recording.call_id)
            .join(Policy, Policy.id == Call.policy_id).where(Recording.recording_sid == recording_sid))
    row = session.execute(scoped(stmt, actor, Policy.branch_id)).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def for_call(session: Session, call_id: int) -> list[Recording]:
    return list(session.scalars(select(Recording).where(Recording.call_id == call_id).order_by(Recording.id)))


# -- downloaders' claims ----------------------------------------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, its next try due, and no live claim on it (never claimed, released, or the lease ran out)."""
    return and_(
        Recording.status == RecordingStatus.PENDING,
        or_(Recording.next_try_at.is_(None), Recording.next_try_at <= now),
        or_(Recording.claim_expires_at.is_(None), Recording.claim_expires_at < now),
    )


def claimable(session: Session, now: datetime, *, limit: int, lock: bool,
              recording_sid: str | None = None) -> list[tuple[Recording, Call, Policy]]:
    """Recordings a downloader may claim now, oldest first (one of them when `recording_sid` is given).

    `lock` (PostgreSQL): FOR UPDATE OF recordings SKIP LOCKED, so concurrent claimers never wait on or take
    each other's rows (the call and policy rows are not locked: webhooks lock calls). SQLite: the write
    lock taken at BEGIN IMMEDIATE serialises claims.
    """
    stmt = (
        select(Recording, Call, Policy)
        .join(Call, Call.id == Recording.call_id)
        .join(Policy, Policy.id == Call.policy_id)
        .where(_claimable(now))
        .order_by(Recording.id)
        .limit(limit)
    )
    if recording_sid is not None:
        stmt = stmt.where(Recording.recording_sid == recording_sid)
    if lock:
        stmt = stmt.with_for_update(skip_locked=True, of=Recording)
    return [(r, c, p) for r, c, p in session.execute(stmt)]


def store_claimed(session: Session, recording_id: int, token: str, *, path: str, sha256: str, size_bytes: int,
                  now: datetime) -> bool:
    """The claimed download is stored: record where and its checksum, and clear the claim."""
    return _finish(session, recording_id, token, status=RecordingStatus.STORED, path=path, sha256=sha256,
                   size_bytes=size_bytes, stored_at=now, next_try_at=None, last_error=None, updated_at=now)


def fail_claimed(session: Session, recording_id: int, token: str, *, attempts: int, error: str,
                 next_try_at: datetime, now: datetime) -> bool:
    """The claimed download failed: count its tries, keep the error and the next try, clear the claim."""
    return _finish(session, recording_id, token, download_attempts=Recording.download_attempts + attempts,
                   last_error=error, next_try_at=next_try_at, updated_at=now)


def _finish(session: Session, recording_id: int, token: str, **values: Any) -> bool:
    """One conditional UPDATE: only while `token` still holds the claim and the recording is pending. False
    (nothing changed) when the lease ran out and another downloader took the recording over."""
    stmt = (
        update(Recording)
        .where(Recording.id == recording_id, Recording.claimed_by == token,
               Recording.status == RecordingStatus.PENDING)
        .values(**values, claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(stmt))
    return result.rowcount == 1


# -- compliance reads -------------------------------------------------------------------------------


def matching(session: Session, actor: Actor, *, policy_no: str | None = None, phone_suffix: str | None = None,
             called_from: datetime | None = None, called_before: datetime | None = None,
             branch_code: str | None = None,
             result_class: ResultClass | None = None, limit: int | None = None, offset: int = 0,
             newest_first: bool = False) -> list[tuple[Recording, Call, Policy]]:
    """Recordings with their call and policy, by call time then recording (`newest_first`: the other way);
    every given filter applies, and only the actor's branches. A phone matches the number the call dialled, or
    the policy's number now."""
    stmt = (select(Recording, Call, Policy).join(Call, Call.id == Recording.call_id)
            .join(Policy, Policy.id == Call.policy_id).join(Branch, Branch.id == Policy.branch_id))
    stmt = scoped(stmt, actor, Policy.branch_id, joined=True)
    if policy_no:
        stmt = stmt.where(Policy.policy_no == policy_no)
    if phone_suffix is not None:
        stmt = stmt.where(or_(Call.dialled_number.like(f"%{phone_suffix}"),
                              Policy.applicant_phone.like(f"%{phone_suffix}")))
    if called_from is not None:
        stmt = stmt.where(Call.created_at >= called_from)
    if called_before is not None:
        stmt = stmt.where(Call.created_at < called_before)
    if branch_code:
        stmt = stmt.where(Branch.code == branch_code)
    if result_class:
        stmt = stmt.where(Call.result_class == result_class)
    order = (Call.created_at.desc(), Recording.id.desc()) if newest_first else (Call.created_at, Recording.id)
    stmt = stmt.order_by(*order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(r, c, p) for r, c, p in session.execute(stmt)]


def due_or_disputed(session: Session, actor: Actor, today: date, limit: int) -> list[tuple[Recording, Call, Policy]]:
    """Stored recordings whose retention date has come, or whose policy has an open dispute; in the actor's
    branches, the earliest retention date first."""
    stmt = (select(Recording, Call, Policy).join(Call, Call.id == Recording.call_id)
            .join(Policy, Policy.id == Call.policy_id)
            .where(Recording.status == RecordingStatus.STORED,
                   or_(Recording.retain_until <= today,
                       and_(Policy.dispute_started_on.is_not(None), Policy.dispute_ended_on.is_(None)))))
    stmt = scoped(stmt, actor, Policy.branch_id).order_by(Recording.retain_until, Recording.id).limit(limit)
    return [(r, c, p) for r, c, p in session.execute(stmt)]


def stored(session: Session) -> list[Recording]:
    return list(session.scalars(select(Recording).where(Recording.status == RecordingStatus.STORED)))


def stored_with_policy(session: Session, actor: Actor,
                       recording_sid: str | None = None) -> list[tuple[Recording, Policy]]:
    """Stored recordings (all, or the one named) with their policy, in the actor's branches."""
    stmt = (select(Recording, Policy).join(Call, Call.id == Recording.call_id).join(Policy, Policy.id == Call.policy_id)
            .where(Recording.status == RecordingStatus.STORED))
    stmt = scoped(stmt, actor, Policy.branch_id)
    if recording_sid:
        stmt = stmt.where(Recording.recording_sid == recording_sid)
    return [(r, p) for r, p in session.execute(stmt)]


def for_policy(session: Session, policy_id: int) -> list[Recording]:
    return list(session.scalars(select(Recording).join(Call, Call.id == Recording.call_id)
                                .where(Call.policy_id == policy_id)))


def played_since(session: Session, operator: str, recording_sid: str, since: datetime) -> bool:
    """Whether the trail has a playback of this recording by this user at or after `since`."""
    stmt = (select(AuditEvent.id).where(AuditEvent.operator == operator, AuditEvent.action == "playback",
                                        AuditEvent.target == recording_sid, AuditEvent.at >= since).limit(1))
    return session.scalars(stmt).first() is not None


def _trail(stmt: Any, *, user: str | None, action: str | None, target: str | None, at_from: datetime | None,
           at_before: datetime | None) -> Any:
    if user:
        stmt = stmt.where(AuditEvent.operator == user)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if target:  # what was asked for, or what it touched (a policy number is in a playback's detail)
        pattern = "%" + target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(AuditEvent.target.ilike(pattern, escape="\\"),
                              AuditEvent.detail.ilike(pattern, escape="\\")))
    if at_from is not None:
        stmt = stmt.where(AuditEvent.at >= at_from)
    if at_before is not None:
        stmt = stmt.where(AuditEvent.at < at_before)
    return stmt


def audit_events(session: Session, limit: int, *, offset: int = 0, user: str | None = None,
                 action: str | None = None, target: str | None = None, at_from: datetime | None = None,
                 at_before: datetime | None = None) -> list[AuditEvent]:
    """The audit trail, newest first; every given filter applies (`target`: contained in the target or the
    detail)."""
    stmt = _trail(select(AuditEvent), user=user, action=action, target=target, at_from=at_from,
                  at_before=at_before)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).offset(offset).limit(limit)))


def audit_count(session: Session, *, user: str | None = None, action: str | None = None, target: str | None = None,
                at_from: datetime | None = None, at_before: datetime | None = None) -> int:
    stmt = _trail(select(func.count()).select_from(AuditEvent), user=user, action=action, target=target,
                  at_from=at_from, at_before=at_before)
    return int(session.scalar(stmt) or 0)
