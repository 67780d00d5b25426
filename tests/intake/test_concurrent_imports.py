"""Two imports at once (two API batches, the console and the CLI) on PostgreSQL: their chunks commit side by side
without a global lock; when both insert the same new policy, agent or branch, the database refuses the later
chunk and it is written again, now updating what the other committed (intake.service). Nothing is lost or doubled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from intake.reader import open_table
from intake.service import ImportSummary, PolicyIntake
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from kit.vocab import TaskStatus
from storage.db import UnitOfWork, make_session_factory, units_of_work
from storage.locks import lost_race
from storage.models import Agent, Branch, CallbackTask, Policy
from tests.factories import policy_row, write_csv


def test_a_lost_race_is_told_from_other_errors() -> None:
    unique = psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
    assert lost_race(unique)  # COPY: psycopg's own error
    assert lost_race(IntegrityError("INSERT", {}, unique))  # an INSERT: wrapped by SQLAlchemy
    assert lost_race(OperationalError("UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not lost_race(OperationalError("COMMIT", {}, psycopg.errors.DiskFull("could not extend file")))
    assert not lost_race(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))  # SQLite: a real bug
    assert not lost_race(ValueError("no"))


def _intake(unit_of_work: UnitOfWork, clock: FrozenClock) -> PolicyIntake:
    settings = Settings()
    return PolicyIntake(unit_of_work, settings=settings, calendar=BusinessCalendar(settings.calendar), clock=clock)


def _waiting_on_a_row(engine: Engine) -> bool:
    """Some transaction waits for another one's uncommitted row (a unique key both insert)."""
    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.datname = current_database() AND l.locktype = 'transactionid' AND NOT l.granted")))


def test_two_imports_inserting_the_same_new_policies_at_once_keep_each_policy_once(
        backend: str, engine: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    """A's chunk has inserted P0–P3 (and their branch and agent) and not committed; B's chunk, P2–P5, waits on
    those keys. A commits: B's chunk is refused (unique key), rolled back and written again, finding the branch,
    the agent, P2 and P3 there. Each policy once with one task, every count right, every task past the phone rules."""
    if backend != "postgresql":
        pytest.skip("SQLite's write lock serialises the two imports")
    rows = [policy_row(policy_no=f"P{i}") for i in range(6)]
    file_a = write_csv(tmp_path / "a.csv", rows[:4])
    file_b = write_csv(tmp_path / "b.csv", rows[2:])
    sessions = make_session_factory(engine)
    plain = units_of_work(sessions)
    a_written, a_may_commit = threading.Event(), threading.Event()
    b_transactions = 0

    @contextmanager
    def a_units() -> Iterator[Session]:
        with plain() as session:
            yield session
            if not a_written.is_set():  # A's first transaction (the chunk): parked before its commit
                session.flush()
                a_written.set()
                assert a_may_commit.wait(30)

    @contextmanager
    def b_units() -> Iterator[Session]:
        nonlocal b_transactions
        b_transactions += 1
        with plain() as session:
            yield session

    summaries: dict[str, ImportSummary] = {}
    errors: list[BaseException] = []

    def run(name: str, units: UnitOfWork, path: Path) -> None:
        try:
            summaries[name] = _intake(units, clock).run(open_table(path))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    a = threading.Thread(target=run, args=("a", a_units, file_a))
    a.start()
    assert a_written.wait(30)
    b = threading.Thread(target=run, args=("b", b_units, file_b))
    b.start()
    probe = create_engine(engine.url, poolclass=NullPool)
    try:
        while b.is_alive() and not _waiting_on_a_row(probe):
            pass  # until B is blocked on A's uncommitted keys
        a_may_commit.set()
        a.join(30)
        b.join(30)
        assert errors == []
        assert b_transactions == 3  # the chunk twice (refused once), then the phone rules
        sa, sb = summaries["a"], summaries["b"]
        assert (sa.rows, sa.imported, sa.tasks_created) == (4, 4, 4)
        assert (sb.rows, sb.imported, sb.unchanged, sb.updated, sb.tasks_created) == (4, 2, 2, 0, 2)
        with probe.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Branch)) == 1
            assert conn.scalar(select(func.count()).select_from(Agent)) == 1
            numbers = conn.scalars(select(Policy.policy_no).order_by(Policy.policy_no)).all()
            assert numbers == [f"P{i}" for i in range(6)]
            tasks = conn.execute(select(Policy.policy_no, CallbackTask.status).join(CallbackTask)).all()
            assert sorted(tasks) == [(f"P{i}", TaskStatus.QUEUED.value) for i in range(6)]
    finally:
        a_may_commit.set()
        probe.dispose()
