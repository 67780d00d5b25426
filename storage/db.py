"""Engine and session factory. Built explicitly by the composition root: nothing happens at import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(RuntimeError):
    pass


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own: see _begin
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: never corrupt; a power cut may lose the last commits
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):  # type: ignore[no-untyped-def]
            # Take SQLite's write lock when the transaction starts, as PostgreSQL's row locks would: two
            # webhooks for one call then run one after the other instead of failing on a stale snapshot.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


UnitOfWork = Callable[[], AbstractContextManager[Session]]  # each call: one transaction, committed on success


def units_of_work(sessions: sessionmaker[Session]) -> UnitOfWork:
    """Transactions on `sessions` for a service that commits in steps of its own (a chunked import): each
    `with unit_of_work() as session` block commits when it succeeds and rolls back otherwise."""

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with sessions() as session, session.begin():
            yield session

    return unit_of_work
