"""Coordination between processes through the database: advisory locks and the database's clock.

PostgreSQL: advisory locks keyed by a stable 64-bit number derived from a name (`lock_key`), so every process
and every release agree on the key without a registry. SQLite runs one dialer process: its write lock
(`BEGIN IMMEDIATE`, storage.db) already serialises every transaction, so these locks are no-ops there.

Names in use: `dialer:claims` (claims are counted against max_concurrent_calls one dialer at a time),
`intake:writes` (imports evaluate the phone rules one at a time: two at once, say two API batches, would both add
the same phone hold; their chunks write side by side, intake.service), `drop:import` (the drop folder's watchers import one file at a time:
intake.drop) and `job:<name>` for each run-once job (storage.jobs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from hashlib import sha256

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

CLAIMS = "dialer:claims"
INTAKE = "intake:writes"
# PostgreSQL's codes for a lost race: unique_violation, deadlock_detected, serialization_failure
RACE_SQLSTATES = frozenset({"23505", "40P01", "40001"})


def lost_race(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL refusing a write because a concurrent transaction got there first: raised by
    psycopg directly (COPY) or wrapped by SQLAlchemy. SQLite serialises writers, so never there."""
    for error in (exc, getattr(exc, "orig", None)):
        if getattr(error, "sqlstate", None) in RACE_SQLSTATES:
            return True
    return False


def lock_key(name: str) -> int:
    """The advisory lock key for `name`: the first 8 bytes of SHA-256("huifang:" + name), as a signed bigint."""
    return int.from_bytes(sha256(f"huifang:{name}".encode()).digest()[:8], "big", signed=True)


def _postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def hold_for_transaction(session: Session, name: str) -> None:
    """Wait for the lock `name` and hold it until the session's transaction ends (commit or rollback).

    Keep such transactions short: every other process that needs the lock waits for them."""
    if _postgresql(session.get_bind()):
        session.execute(select(func.pg_advisory_xact_lock(lock_key(name))))


@contextmanager
def hold(engine: Engine, name: str) -> Iterator[None]:
    """Wait for the lock `name` and hold it until the block ends, on a connection of its own that keeps no
    transaction open (as `try_hold`; a process that dies releases it). SQLite: no-op (its write lock serialises)."""
    if not _postgresql(engine):
        yield
        return
    key = lock_key(name)
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(key)))
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()
            except Exception:
                conn.invalidate()
                raise


@contextmanager
def try_hold(engine: Engine, name: str) -> Iterator[bool]:
    """Try the lock `name` without waiting; yields whether this process holds it, until the block ends.

    PostgreSQL: a session-level lock on a connection of its own that keeps no transaction open while the
    block runs (the block opens its own units of work); a process that dies releases it with its connection.
    SQLite: always True (one dialer)."""
    if not _postgresql(engine):
        yield True
        return
    key = lock_key(name)
    with engine.connect() as conn:
        held = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one())
        conn.commit()  # the lock is the connection's, not a transaction's: nothing stays open
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(select(func.pg_advisory_unlock(key)))
                    conn.commit()
                except Exception:
                    conn.invalidate()  # never hand a connection that may still hold the lock back to the pool
                    raise


def database_now(session: Session) -> datetime:
    """The database's clock (PostgreSQL clock_timestamp(): one clock for every host), for pacing and job
    spacing in real time. SQLite (one host): this host's clock. Business rules use kit.clock instead."""
    if _postgresql(session.get_bind()):
        at: datetime = session.execute(select(func.clock_timestamp())).scalar_one()
        return at.astimezone(UTC)
    return datetime.now(UTC)
