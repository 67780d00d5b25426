"""The composition root: settings → calendar, clock, engine, sessions. Built explicitly, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huifang.config import load_settings
from kit.actor import Actor, operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import Clock, SystemClock
from kit.settings import Settings
from storage.db import make_engine, make_session_factory, unit_of_work


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = None

    @property
    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(self.settings.calendar)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """For jobs that run several short transactions of their own (the dialer, recording downloads)."""
        if self._sessions is None:
            self._sessions = make_session_factory(self.engine)
        return self._sessions

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction, rolled back unless the block says `session.commit()` (storage.db.unit_of_work)."""
        with unit_of_work(self.sessions) as session:
            yield session

    @property
    def actor(self) -> Actor:
        """Who the command line acts as: HUIFANG_OPERATOR, else the login name (every branch in view)."""
        return operator_actor(operator())

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


UMASK = 0o027  # files 0640 and folders 0750 at most: nothing of ours is for other local users


def build_app(config_path: Path | None = None, clock: Clock | None = None) -> App:
    """Every entry point starts here (the CLI and so `huifang serve` and `huifang dialer`, the WSGI factory
    huifang.web.create_app): it also gives the process a private umask before anything is written."""
    private_umask()
    return App(settings=load_settings(config_path), clock=clock or SystemClock())


def private_umask() -> None:
    """Add UMASK to the process's umask (a stricter one set by the operator is kept)."""
    import os

    current = os.umask(UMASK)
    os.umask(current | UMASK)


def operator() -> str:
    """Who is acting, for histories and the audit trail: HUIFANG_OPERATOR, else the login name."""
    import getpass
    import os

    return os.environ.get("HUIFANG_OPERATOR") or getpass.getuser()
