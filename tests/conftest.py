"""Shared fixtures. Database tests run once per backend in HUIFANG_TEST_BACKENDS (default: both)."""

from __future__ import annotations

import ctypes
import importlib
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from speech.cache import PromptCache
from speech.tts import ENGINE_RECORD, EspeakTts
from storage import migrate
from storage.base import Base
from storage.db import make_engine

PG_ADMIN_URL = os.environ.get("HUIFANG_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b.strip() for b in os.environ.get("HUIFANG_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)
PROMPT_SECRET = b"test-prompt-url-secret-0123456789abcdef"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked heavy (minutes each) run only with HUIFANG_TEST_HEAVY=1: CI runs the representative set."""
    if os.environ.get("HUIFANG_TEST_HEAVY") == "1":
        return
    skip = pytest.mark.skip(reason="heavy (minutes): set HUIFANG_TEST_HEAVY=1 to run it")
    for item in items:
        if item.get_closest_marker("heavy") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def kaldi_dither_seed() -> None:
    """Kaldi dithers every decode's samples with libc's rand() (libvosk imports rand and srand from glibc), so
    a clip near a threshold decodes differently depending on what the process decoded before: a test passed
    alone and failed after another module. Each test starts from the same seed, so its decodes are the same in
    any order and on any run; production keeps the dither."""
    ctypes.CDLL(None).srand(1)


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> PromptCache:
    """Prompt audio rendered by the real espeak-ng, shared by the whole run (renders once per text); its names
    keyed with a fixed secret as in production (so the golden TwiML's prompt URLs are the same every run)."""
    root = tmp_path_factory.mktemp("prompts")
    return PromptCache(root, EspeakTts(engine_record=root / ENGINE_RECORD), secret=PROMPT_SECRET)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def calendar(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar(settings.calendar)


class _Databases:
    """One migrated database per backend for the whole run, emptied before each test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.engines: dict[str, Engine] = {}
        self.urls: dict[str, str] = {}
        self._pg_name: str | None = None

    def engine(self, backend: str) -> Engine:
        if backend not in self.engines:
            url = self._create(backend)
            engine = make_engine(url)
            migrate.upgrade(engine)
            self.engines[backend], self.urls[backend] = engine, url
        return self.engines[backend]

    def _create(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / 'test.db'}"
        if backend == "postgresql":
            self._pg_name = f"huifang_test_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self._pg_name}"'))
            admin.dispose()
            return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self._pg_name}"
        raise ValueError(f"unknown test backend {backend!r}")

    def empty(self, backend: str) -> None:
        engine = self.engine(backend)
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with engine.begin() as conn:
            if backend == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:  # the audit trail refuses DELETE: lift its guard for the clean-up only
                guard = importlib.import_module("storage.migrations.versions.20261125_0005_audit_and_disputes")
                conn.execute(text("DROP TRIGGER IF EXISTS trg_audit_events_no_delete"))
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
                conn.execute(text(guard.SQLITE_TRIGGERS[1]))

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        if self._pg_name:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, _databases: _Databases) -> str:
    _databases.empty(request.param)
    return str(request.param)


@pytest.fixture
def engine(backend: str, _databases: _Databases) -> Engine:
    return _databases.engine(backend)


@pytest.fixture
def db_url(backend: str, _databases: _Databases) -> str:
    _databases.engine(backend)
    return _databases.urls[backend]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction the test owns, as a CLI command would; committed at the end (a test may
    commit earlier, e.g. to let another connection see its rows)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.commit()
