"""The results feed: `task.result` events in the order their transactions wrote them, paged by an opaque cursor.

Why it never skips an event. PostgreSQL hands out `id`s when rows are inserted, not when they commit: a
transaction may insert id 7, stay open, and commit after id 8 was read — a feed that resumed "after id 8" would
never show 7. So every event row keeps the id of the transaction that wrote it (`txid`, a column default of
pg_current_xact_id()), the feed orders by (txid, id), and it returns only events whose transaction is older than
every transaction still running in this database: `txid < HORIZON_SQL` (pg_current_snapshot()'s xmin, not
counting other databases' transactions). A transaction that commits
later has a txid at or above that horizon (it was running, or it starts afterwards and gets a newer id), so it
sorts after everything already returned. Nobody is blocked for it (no lock, no wait on the writers); a long
transaction only delays the feed until it ends, it never makes it skip. SQLite runs one writer at a time (each
transaction takes the write lock when it begins: storage.db), so ids come in commit order; its rows keep txid 0.

The cursor is base64url of "txid.id" of the last event returned: opaque to callers, stable across restarts.

Retention (integration.retention) deletes old delivered events from the same table and keeps the highest (txid, id)
it deleted. A cursor below that mark would skip deleted events without a word, so it is refused (CursorExpired;
the API answers 410 and the poller resyncs); a read without a cursor starts after the mark. The mark is read after
the events: a prune that committed before the events were read is seen, so a skip is always refused.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, literal, literal_column, select, tuple_
from sqlalchemy.orm import Session

from integration.events import EventType
from integration.retention import pruned_to
from kit.actor import Actor
from kit.clock import isoformat_local
from storage.models import IntegrationEvent, Policy
from storage.scope import scoped

MAX_LIMIT = 1000


class BadCursor(ValueError):
    """The cursor is not one this feed gave out; the message says so (a 400 for the API)."""


class CursorExpired(ValueError):
    """The cursor points before events retention deleted (notifications.keep_days): reading on from it would skip
    them. The poller must resync (the API answers 410)."""


@dataclass(frozen=True)
class FeedItem:
    event_id: str
    type: str
    occurred_at: str  # ISO 8601 with the business offset
    policy_no: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "type": self.type, "occurred_at": self.occurred_at,
                "policy_no": self.policy_no, "data": self.data}


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_cursor: str  # pass it as `since` for the next page (the same cursor again when nothing is new yet)
    has_more: bool  # more events are ready now: ask again at once

    def as_json(self) -> dict[str, Any]:
        return {"items": [i.as_json() for i in self.items], "next_cursor": self.next_cursor, "has_more": self.has_more}


def encode_cursor(txid: int, event_pk: int) -> str:
    return base64.urlsafe_b64encode(f"{txid}.{event_pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        txid, event_pk = (int(part) for part in raw.split("."))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(f"since: {cursor!r} is not a cursor this feed gave out (use next_cursor)") from None
    if txid < 0 or event_pk < 0:
        raise BadCursor(f"since: {cursor!r} is not a cursor this feed gave out (use next_cursor)")
    return txid, event_pk


def results(session: Session, actor: Actor, since: str | None, limit: int) -> FeedPage:
    """Up to `limit` (1..1000) `task.result` events after `since` (None: from the first one retention kept), in the
    actor's branch scope. Read-only: the caller's transaction is not changed. Raises BadCursor for a cursor the
    feed did not give out, CursorExpired for one before events retention deleted."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: must be between 1 and {MAX_LIMIT}")
    after = decode_cursor(since) if since else pruned_to(session, EventType.TASK_RESULT.value)
    E = IntegrationEvent
    stmt = select(E.txid, E.id, E.event_id, E.type, E.created_at, E.policy_no, E.payload).where(
        E.type == EventType.TASK_RESULT.value, tuple_(E.txid, E.id) > tuple_(literal(after[0]), literal(after[1])))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(E.txid < _xmin())
    if actor.branch_codes is not None:
        stmt = scoped(stmt.join(Policy, Policy.policy_no == E.policy_no), actor, Policy.branch_id)
    rows = session.execute(stmt.order_by(E.txid, E.id).limit(limit + 1)).all()
    if since and after < pruned_to(session, EventType.TASK_RESULT.value):
        raise CursorExpired(f"since: {since!r} points before results deleted by retention (the feed keeps them "
                            "notifications.keep_days): reading on from it would skip them")
    more = len(rows) > limit
    rows = rows[:limit]
    items = [FeedItem(r.event_id, r.type, isoformat_local(r.created_at), r.policy_no, dict(r.payload)) for r in rows]
    cursor = encode_cursor(rows[-1].txid, rows[-1].id) if rows else (since or encode_cursor(*after))
    return FeedPage(items, cursor, more)


# The oldest transaction still running in this database, as of the statement's own snapshot: the least of the
# snapshot's in-progress ids, without those the activity view attributes to another database (a long transaction
# elsewhere in the cluster must not hold the feed back; one the view does not show stays in: a delay, never a
# skip), else the snapshot's xmax. xid8 reaches bigint through text (epoch-extended: it never wraps around);
# backend_xid is the 32-bit xid, compared modulo 2^32 (running ids span far less than 2^31).
HORIZON_SQL = """(SELECT least(pg_snapshot_xmax(t.snap)::text::bigint, (
    SELECT min(x::text::bigint) FROM pg_snapshot_xip(t.snap) AS x
    WHERE x::text::bigint % 4294967296 NOT IN (
        SELECT backend_xid::text::bigint FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())))
  FROM (SELECT pg_current_snapshot() AS snap) AS t)"""


def _xmin() -> ColumnElement[int]:
    """Events of transactions below this id are all committed (or rolled back) and visible (PostgreSQL)."""
    return literal_column(HORIZON_SQL, BigInteger)
