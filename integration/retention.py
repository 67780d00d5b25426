"""Retention of the outbox (`integration_events`): which events may go, deleted in bounded batches.

An event may be deleted when it is older than `notifications.keep_days` AND nothing needs it as a notification any
more: it was delivered, or, with no endpoint (notifications off), it is anything but a dead letter (nothing would
ever send it; one a sender still holds under a live claim waits for the claim to end). Dead letters stay until
someone resends them, and with an endpoint an event not delivered yet stays, however old.

The results feed (integration.feed) reads the same rows. So the transaction that deletes a batch also raises each
deleted type's mark in `integration_pruned` to the highest (txid, id) it deleted: a cursor below the mark would
silently skip what was deleted, and the feed refuses it instead (CursorExpired: 410 for the API); a read without a
cursor starts after the mark. The table's newest event is never deleted (SQLite would hand its id out again).

Each batch is one short transaction of the caller's (`prune_batch` only flushes; the caller commits and asks again
until a batch comes back short), so a big table is never held in one huge transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, not_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import IntegrationEvent, IntegrationPruned

E = IntegrationEvent
P = IntegrationPruned


def cutoff(now: datetime, keep_days: int) -> datetime:
    """Events created before this are past the retention window."""
    return now - timedelta(days=keep_days)


def prunable(before: datetime, *, notifications_on: bool, now: datetime) -> ColumnElement[bool]:
    """The rule, as SQL: old enough, and no longer needed as a notification. The table's newest event is never
    deleted: SQLite gives a new row the highest id + 1, so deleting the newest would hand its id out again, and a
    poller whose cursor is at that id would skip the new event."""
    old = (E.created_at < before) & (E.id < select(func.max(E.id)).scalar_subquery())
    if notifications_on:
        return old & E.delivered_at.is_not(None)
    return old & E.dead_at.is_(None) & or_(E.claim_expires_at.is_(None), E.claim_expires_at <= now)


def prune_batch(session: Session, *, now: datetime, keep_days: int, notifications_on: bool, limit: int) -> int:
    """Delete up to `limit` prunable events, oldest first, and raise their types' marks, in the caller's
    transaction (flushed, not committed). Returns how many were deleted."""
    rule = prunable(cutoff(now, keep_days), notifications_on=notifications_on, now=now)
    chosen = select(E.id).where(rule).order_by(E.created_at, E.id).limit(limit).scalar_subquery()
    # the rule again on the DELETE itself: a row resent or claimed since it was chosen is left alone
    gone = session.execute(delete(E).where(E.id.in_(chosen), rule).returning(E.type, E.txid, E.id),
                           execution_options={"synchronize_session": False}).all()
    last: dict[str, tuple[int, int]] = {}
    count: dict[str, int] = defaultdict(int)
    for type_, txid, pk in gone:
        last[type_] = max(last.get(type_, (0, 0)), (int(txid), int(pk)))
        count[type_] += 1
    for type_, key in last.items():
        _raise_mark(session, type_, key, count[type_], now)
    session.flush()
    return len(gone)


def _raise_mark(session: Session, type_: str, key: tuple[int, int], deleted: int, now: datetime) -> None:
    """The type's mark to at least `key` (a concurrent prune waits for this row's lock: the mark never goes down)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(P).values(type=type_, txid=0, event_pk=0, deleted=0, pruned_at=now)
                    .on_conflict_do_nothing(index_elements=[P.type]))
    row = session.scalars(select(P).where(P.type == type_).with_for_update()
                          .execution_options(populate_existing=True)).one()
    if key > (row.txid, row.event_pk):
        row.txid, row.event_pk = key
    row.deleted += deleted
    row.pruned_at = now


def pruned_to(session: Session, type_: str) -> tuple[int, int]:
    """The (txid, id) of the last `type_` event retention deleted; (0, 0) when none was."""
    row = session.execute(select(P.txid, P.event_pk).where(P.type == type_)).first()
    return (int(row.txid), int(row.event_pk)) if row is not None else (0, 0)


def counts(session: Session, *, now: datetime, keep_days: int, notifications_on: bool) -> dict[str, int]:
    """Of the events past the window: how many the rule deletes, and how many it keeps (dead letters; events not
    delivered yet or under a live claim)."""
    before = cutoff(now, keep_days)
    rule = prunable(before, notifications_on=notifications_on, now=now)
    undelivered = E.delivered_at.is_(None) & E.dead_at.is_(None) & not_(rule)
    deletable, dead, waiting = session.execute(
        select(func.count().filter(rule), func.count().filter(E.dead_at.is_not(None)), func.count().filter(undelivered))
        .where(E.created_at < before)).one()
    return {"deletable": int(deletable), "kept_dead": int(dead), "kept_undelivered": int(waiting)}
