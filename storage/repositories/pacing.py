"""The account's next placement slot, shared by every dialer process (storage.models.DialerPacing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.locks import database_now
from storage.models import DialerPacing


def take_slot(session: Session, account: str, interval: timedelta) -> tuple[datetime, datetime]:
    """Reserve the account's next slot: (the slot, now), both on the database's clock; the slot after it is
    `interval` later. Locks the account's row until the caller's transaction ends: commit at once."""
    row = _locked(session, account)
    if row is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        first = database_now(session)
        session.execute(insert(DialerPacing).values(account=account, next_slot_at=first, updated_at=first)
                        .on_conflict_do_nothing(index_elements=[DialerPacing.account]))
        row = _locked(session, account)
        assert row is not None
    now = database_now(session)  # read after the lock: time spent waiting for it is not counted twice
    slot = max(now, row.next_slot_at)
    row.next_slot_at, row.updated_at = slot + interval, now
    session.flush()
    return slot, now


def _locked(session: Session, account: str) -> DialerPacing | None:
    stmt = select(DialerPacing).where(DialerPacing.account == account).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
