"""The integration outbox: one row per change the insurer's core system hears of (integration.events).

Written in the same transaction as the change it reports (a task's result, a case opening or closing), so an
event exists exactly when its change committed. The same rows are the polling feed (`GET /api/v1/results`,
integration.feed) and the notifications' delivery queue (notifications.sender): the delivery state below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, FetchedValue, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin

PENDING = text("delivered_at IS NULL AND dead_at IS NULL")
DEAD = text("dead_at IS NOT NULL")


class IntegrationEvent(IdMixin, Base):
    __tablename__ = "integration_events"
    __table_args__ = (
        # the feed: one type's events in (txid, id) order after the cursor (integration.feed)
        Index("ix_integration_events_feed", "type", "txid", "id"),
        # the sender's due events, and the dead letters (both small partial indexes)
        Index("ix_integration_events_pending", "next_attempt_at", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_integration_events_dead", "dead_at", postgresql_where=DEAD, sqlite_where=DEAD),
    )

    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # uuid4: receivers dedupe by it
    type: Mapped[str] = mapped_column(String(32))  # task.result | case.opened | case.closed
    policy_no: Mapped[str] = mapped_column(String(40), index=True)  # as policies.policy_no
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the body's "data"
    # the business clock at the change: the body's "occurred_at"; indexed for retention (integration.retention)
    created_at: Mapped[datetime] = mapped_column(index=True)
    # PostgreSQL: the recording transaction's id (pg_current_xact_id(), a server default of the migration), so the
    # feed can wait for transactions still open (integration.feed); SQLite (writers serialised): 0
    txid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())
    # delivery (notifications.sender)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]  # None: due now
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]  # gave up after notifications.max_age_hours (a dead letter)
    resent_at: Mapped[datetime | None]  # a dead letter sent again: its max age counts from here
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # a sender's lease (recordings.downloader's pattern)
    claim_expires_at: Mapped[datetime | None]


class IntegrationPruned(Base):
    """Per event type, the last event retention deleted (integration.retention): the highest (txid, id) of every
    deleted event, raised in the transaction that deletes. A feed cursor below it would have skipped deleted events,
    so the feed refuses it (integration.feed.CursorExpired) and a feed read without a cursor starts after it."""

    __tablename__ = "integration_pruned"

    type: Mapped[str] = mapped_column(String(32), primary_key=True)  # as integration_events.type
    txid: Mapped[int] = mapped_column(BigInteger)
    event_pk: Mapped[int] = mapped_column(BigInteger)  # the deleted event's integration_events.id
    deleted: Mapped[int] = mapped_column(BigInteger)  # events of this type deleted in all
    pruned_at: Mapped[datetime]  # the business clock of the last prune that deleted one
