"""The outbox's delivery state, in short transactions of the caller's: claim a batch under a lease, record what
each POST did (only while the claim still holds), list, and resend dead letters. Services flush; callers commit.

Claims follow recordings.downloader: PostgreSQL takes the batch with FOR UPDATE SKIP LOCKED, SQLite's write
lock (BEGIN IMMEDIATE) serialises claims; a claim names a token unique to it, and a sender that died leaves a
claim that runs out (`claim_seconds`) and is taken over: the event is sent again, with the same event id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from kit.settings import NotificationSettings
from storage.models import IntegrationEvent

E = IntegrationEvent
TABLE: Table = IntegrationEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: str
    type: str
    policy_no: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int  # tries finished before this one
    since: datetime  # where its max age counts from (the change, or the resend)
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Result:
    """What one POST did: delivered (a 2xx), or the error to keep."""

    claimed: Claimed
    error: str | None


def claim_token(holder: str) -> str:
    return f"{holder[:47]}/{uuid.uuid4().hex[:16]}"


def pending() -> Any:
    return (E.delivered_at.is_(None)) & (E.dead_at.is_(None))


def claim(session: Session, holder: str, *, now: datetime, settings: NotificationSettings,
          limit: int | None = None) -> list[Claimed]:
    """Up to `limit` (batch_size) due events, oldest first, leased to a new token of `holder`."""
    stmt = (select(E).where(pending(), or_(E.next_attempt_at.is_(None), E.next_attempt_at <= now),
                            or_(E.claim_expires_at.is_(None), E.claim_expires_at <= now))
            .order_by(E.id).limit(limit or settings.batch_size).with_for_update(skip_locked=True))
    token, expires = claim_token(holder), now + timedelta(seconds=settings.claim_seconds)
    rows = list(session.scalars(stmt))
    for row in rows:
        row.claimed_by, row.claim_expires_at = token, expires
    session.flush()
    return [Claimed(r.id, r.event_id, r.type, r.policy_no, dict(r.payload), r.created_at, r.attempts,
                    r.resent_at or r.created_at, token, expires) for r in rows]


def backoff(settings: NotificationSettings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: base, doubled each try, at most max."""
    seconds = settings.backoff_base_seconds * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


def finish(session: Session, results: list[Result], *, now: datetime, settings: NotificationSettings) -> int:
    """Record each POST's outcome where its claim still holds; returns how many were recorded (a claim that ran
    out and was taken over changes nothing: the taker's result counts)."""
    delivered, failed = [], []
    for r in results:
        c = r.claimed
        key = {"b_id": c.id, "b_token": c.token}
        if r.error is None:
            delivered.append(key)
            continue
        attempts = c.attempts + 1
        last_try = c.since + timedelta(hours=settings.max_age_hours)
        dead = now >= last_try
        failed.append({**key, "b_attempts": attempts, "b_error": r.error[:2000], "b_dead": now if dead else None,
                       "b_next": None if dead else min(now + backoff(settings, attempts), last_try)})
    held = TABLE.c.id == bindparam("b_id")
    mine = TABLE.c.claimed_by == bindparam("b_token")
    done = 0
    conn = session.connection()
    if delivered:
        stmt = update(TABLE).where(held, mine).values(
            delivered_at=now, attempts=TABLE.c.attempts + 1, last_error=None, next_attempt_at=None,
            claimed_by=None, claim_expires_at=None)
        done += _rows(conn.execute(stmt, delivered))
    if failed:
        stmt = update(TABLE).where(held, mine).values(
            attempts=bindparam("b_attempts"), last_error=bindparam("b_error"), dead_at=bindparam("b_dead"),
            next_attempt_at=bindparam("b_next"), claimed_by=None, claim_expires_at=None)
        done += _rows(conn.execute(stmt, failed))
    return done


def release(session: Session, claims: list[Claimed]) -> None:
    """Give back claims not tried (the lease would run out before their turn)."""
    if claims:
        session.connection().execute(
            update(TABLE).where(TABLE.c.id == bindparam("b_id"), TABLE.c.claimed_by == bindparam("b_token"))
            .values(claimed_by=None, claim_expires_at=None), [{"b_id": c.id, "b_token": c.token} for c in claims])


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


def listed(*, dead_only: bool, limit: int) -> Select[IntegrationEvent]:
    """Undelivered events (pending and dead), or the dead letters alone; newest first."""
    stmt = select(E).where(E.dead_at.is_not(None) if dead_only else E.delivered_at.is_(None))
    return stmt.order_by(E.id.desc()).limit(limit)


def status(event: IntegrationEvent) -> str:
    if event.delivered_at is not None:
        return "delivered"
    return "dead" if event.dead_at is not None else "pending"


def as_json(event: IntegrationEvent) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {"event_id": event.event_id, "type": event.type, "policy_no": event.policy_no, "status": status(event),
            "occurred_at": iso(event.created_at), "attempts": event.attempts,
            "next_attempt_at": iso(event.next_attempt_at), "delivered_at": iso(event.delivered_at),
            "dead_at": iso(event.dead_at), "last_error": event.last_error}


class NotResendable(ValueError):
    """The event is unknown, or still pending (it is being sent already)."""


def resend(session: Session, *, now: datetime, event_id: str | None = None, all_dead: bool = False) -> list[str]:
    """Send a dead (or delivered) event again, from now: its attempts and its max age start over. Returns the event
    ids now pending again."""
    if (event_id is None) == (not all_dead):
        raise ValueError("name one event id, or all dead letters")
    if all_dead:
        rows = list(session.scalars(select(E).where(E.dead_at.is_not(None)).order_by(E.id).with_for_update()))
    else:
        row = session.scalars(select(E).where(E.event_id == event_id).with_for_update()).one_or_none()
        if row is None:
            raise NotResendable(f"no event {event_id}")
        if status(row) == "pending":
            raise NotResendable(f"event {event_id} is pending: it is being sent already")
        rows = [row]
    for row in rows:
        row.dead_at = row.delivered_at = row.next_attempt_at = None
        row.resent_at, row.attempts = now, 0
    session.flush()
    return [row.event_id for row in rows]
