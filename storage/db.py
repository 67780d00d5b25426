"""Engine and session factory. Built explicitly by the composition root: nothing happens at import."""

from __future__ import annotations

import functools
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    pass


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_database_file(Path(database))
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
    # PostgreSQL restarted (or a proxy dropped idle connections): each connection is pinged when taken from the
    # pool, so the next transaction after the restart reconnects instead of failing on a dead connection.
    return create_engine(url, pool_pre_ping=True)


def private_database_file(path: Path) -> None:
    """The SQLite file holds every customer's data: created 0600 in a 0750 folder whatever the umask (SQLite
    gives its -wal and -shm files the database's mode); one found readable by others is tightened, with a
    warning. PostgreSQL keeps its data in the server's own directory."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        path.parent.chmod(0o750)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database
        return
    except FileExistsError:
        pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o037:
        log.warning("the database %s was readable or writable by others (mode %o): now %o", path, mode, mode & 0o640)
        path.chmod(mode & 0o640)


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` is the database connection dying under a transaction (the server restarted or terminated
    the backend, the network dropped it): nothing of that transaction is kept unless its COMMIT was under way,
    and a new connection may work. SQLAlchemy has invalidated the pool's older connections by then."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def on_a_new_connection(work: Callable[[], T], *, what: str, waits: Sequence[float] = (0.0,),
                        sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `work` (whole transactions of its own); when the connection is lost under it, run it again on a new
    connection, after each of `waits` seconds in turn, then give up (the error is raised).

    Only for work that may run twice: a lost transaction was rolled back, unless the connection died during
    its COMMIT, when the work must be idempotent (a webhook keyed by CallSid and step, a placement recorded by
    its CallSid)."""
    for wait in (*waits, None):
        try:
            return work()
        except DBAPIError as exc:
            if wait is None or not connection_lost(exc):
                raise
            log.warning("%s: the database connection was lost (%s); trying again on a new connection",
                        what, str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
            if wait:
                sleep(wait)
    raise AssertionError("unreachable")


def reconnecting(view: Callable[P, T]) -> Callable[P, T]:
    """A webhook that is answered on a new connection when the database connection is lost under it (once):
    Twilio does not retry a failed status or recording callback, so a restart of the database must not fail one.
    Webhooks are idempotent (architecture invariant 3), so one whose COMMIT was lost may run again."""

    @functools.wraps(view)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return on_a_new_connection(lambda: view(*args, **kwargs), what=f"webhook {view.__name__}")

    return run


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction, rolled back unless the block says `session.commit()` (architecture invariant 2).

    An exception caught inside the block does not commit half an action by falling off its end: only an
    explicit commit does. The one implementation: the CLI, the web app, the dialer and jobs all use it."""
    with sessions() as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                session.rollback()


UnitOfWork = Callable[[], AbstractContextManager[Session]]  # each call: one step's transaction


def units_of_work(sessions: sessionmaker[Session]) -> UnitOfWork:
    """Transactions for a service that works in whole steps of its own (a chunked import): each
    `with step() as session` block is a `unit_of_work` whose commit is said by reaching the block's end; an
    exception rolls the step back."""

    @contextmanager
    def step() -> Iterator[Session]:
        with unit_of_work(sessions) as session:
            yield session
            session.commit()

    return step
