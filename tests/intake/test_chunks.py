"""A file is imported in chunks, each committed on its own, then the phone rules in a transaction of their own:
other writers get in between chunks, committed chunks survive a stop, and importing the file again finishes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from intake.reader import open_table
from intake.service import ImportInterrupted, ImportSummary, PolicyIntake
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from kit.vocab import TaskStatus
from storage.db import UnitOfWork, make_session_factory, units_of_work
from storage.models import CallbackTask, Policy, TaskHold
from tests.factories import policy_row, write_csv

WRONG_NUMBER = "1370000123"  # ten digits: held as wrong_number by the phone rules


@pytest.fixture
def probe(engine: Engine) -> Iterator[Engine]:
    """Another connection that never waits for a lock: it fails at once where a writer would be blocked."""
    sqlite = engine.url.get_backend_name() == "sqlite"
    other = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 0} if sqlite else {})
    yield other
    other.dispose()


def write_now(probe: Engine, policy_no: str) -> None:
    """Write to the tables the import writes. SQLite: take the write lock without waiting (the import's open
    transaction holds it); PostgreSQL: a table lock that conflicts with any open transaction that wrote them."""
    with probe.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE policies, callback_tasks IN SHARE ROW EXCLUSIVE MODE NOWAIT"))
        conn.execute(update(Policy).where(Policy.policy_no == policy_no).values(bank_name="并发写入"))


def statuses(probe: Engine) -> dict[str, TaskStatus]:
    with probe.connect() as conn:
        rows = conn.execute(select(Policy.policy_no, CallbackTask.status).join(CallbackTask).order_by(Policy.policy_no))
        return {policy_no: TaskStatus(status) for policy_no, status in rows}


def count(probe: Engine, model: type[Policy] | type[CallbackTask] | type[TaskHold]) -> int:
    with probe.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model)) or 0


def intake(unit_of_work: UnitOfWork, clock: FrozenClock, **options: object) -> PolicyIntake:
    settings = Settings()
    return PolicyIntake(unit_of_work, settings=settings, calendar=BusinessCalendar(settings.calendar), clock=clock,
                        **options)  # type: ignore[arg-type]


def failing(unit_of_work: UnitOfWork, number: int) -> UnitOfWork:
    """The same transactions, except that transaction `number` fails after its statements ran (a lost
    connection, a full disk): it is rolled back."""
    opened = 0

    @contextmanager
    def transaction() -> Iterator[Session]:
        nonlocal opened
        opened += 1
        with unit_of_work() as session:
            yield session
            if opened == number:
                session.flush()
                raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    return transaction


def five_policies(tmp_path: Path) -> Path:
    """Rows 2–6 (the header is row 1): P0 … P4, P1 on a wrong number. Two to a chunk: rows 2–3, 4–5, 6."""
    rows = [policy_row(policy_no=f"P{i}", **({"applicant_phone": WRONG_NUMBER} if i == 1 else {})) for i in range(5)]
    return write_csv(tmp_path / "five.csv", rows)


def test_each_chunk_is_committed_before_the_next_and_another_writer_gets_in(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    path = five_policies(tmp_path)
    between: list[tuple[int, int, set[TaskStatus]]] = []

    def after_chunk(summary: ImportSummary) -> None:
        write_now(probe, "P0")
        between.append((summary.rows, count(probe, Policy), set(statuses(probe).values())))

    summary = intake(units_of_work(make_session_factory(engine)), clock, chunk_rows=2,
                     after_chunk=after_chunk).run(open_table(path))
    # committed rows are visible to another connection; their tasks wait held for the phone rules
    assert between == [(2, 2, {TaskStatus.HELD}), (4, 4, {TaskStatus.HELD}), (5, 5, {TaskStatus.HELD})]
    assert (summary.rows, summary.imported, summary.tasks_created, summary.held, summary.holds_added) == (5, 5, 5, 1, 1)
    assert statuses(probe) == {"P0": TaskStatus.QUEUED, "P1": TaskStatus.HELD, "P2": TaskStatus.QUEUED,
                               "P3": TaskStatus.QUEUED, "P4": TaskStatus.QUEUED}
    with probe.connect() as conn:  # the other writer's change was committed in between, and kept
        assert conn.scalar(select(Policy.bank_name).where(Policy.policy_no == "P0")) == "并发写入"


def test_the_probe_is_refused_while_one_transaction_holds_the_whole_file(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    """The check above can fail: with the file in one transaction (the chunks as savepoints) the other writer
    cannot get in."""
    path = five_policies(tmp_path)
    with Session(engine) as session, session.begin():
        @contextmanager
        def savepoint() -> Iterator[Session]:
            with session.begin_nested():
                yield session

        with pytest.raises(OperationalError):
            intake(savepoint, clock, chunk_rows=2, after_chunk=lambda _: write_now(probe, "P0")).run(open_table(path))
        session.rollback()
    assert count(probe, Policy) == 0


def test_a_failed_chunk_keeps_the_earlier_chunks_and_the_same_file_finishes_the_job(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    path = five_policies(tmp_path)
    transactions = units_of_work(make_session_factory(engine))
    with pytest.raises(ImportInterrupted, match=r"^the import stopped after row 3 \(OperationalError: .*disk I/O error"
                       r"\); 2 rows are committed \(2 new, 0 updated, 0 unchanged, 0 rejected\), none after it; .*"
                       r"Import the same file again to finish") as stopped:
        intake(failing(transactions, 2), clock, chunk_rows=2).run(open_table(path))
    assert (stopped.value.committed_through, stopped.value.summary.rows, stopped.value.summary.imported) == (3, 2, 2)
    # the first chunk is in; its tasks, whose phones nobody has checked yet, are not dialable
    assert statuses(probe) == {"P0": TaskStatus.HELD, "P1": TaskStatus.HELD}
    assert count(probe, TaskHold) == 0

    again = intake(transactions, clock, chunk_rows=2).run(open_table(path))
    assert (again.rows, again.imported, again.unchanged, again.updated, again.tasks_created) == (5, 3, 2, 0, 3)
    assert (again.held, again.holds_added, again.rejected) == (1, 1, [])
    assert statuses(probe) == {"P0": TaskStatus.QUEUED, "P1": TaskStatus.HELD, "P2": TaskStatus.QUEUED,
                               "P3": TaskStatus.QUEUED, "P4": TaskStatus.QUEUED}
    assert (count(probe, Policy), count(probe, CallbackTask), count(probe, TaskHold)) == (5, 5, 1)


def test_a_stop_in_the_phone_rules_keeps_every_row_and_holds_the_tasks_until_the_file_comes_again(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    path = five_policies(tmp_path)
    transactions = units_of_work(make_session_factory(engine))
    with pytest.raises(ImportInterrupted, match=r"^the phone-quality check failed after every row was committed "
                       r"\(OperationalError: .*\); 5 rows are committed \(5 new, ") as stopped:
        intake(failing(transactions, 4), clock, chunk_rows=2).run(open_table(path))  # 3 chunks, then the rules
    assert stopped.value.committed_through == 6
    assert set(statuses(probe).values()) == {TaskStatus.HELD}
    assert count(probe, TaskHold) == 0

    again = intake(transactions, clock, chunk_rows=2).run(open_table(path))
    assert (again.imported, again.unchanged, again.tasks_created, again.held, again.holds_added) == (0, 5, 0, 1, 1)
    assert [no for no, status in statuses(probe).items() if status is TaskStatus.HELD] == ["P1"]


def test_a_failure_in_the_first_chunk_commits_nothing(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    transactions = units_of_work(make_session_factory(engine))
    with pytest.raises(ImportInterrupted, match=r"^the import stopped in its first chunk \(OperationalError: .*\); "
                       r"nothing is committed\. Import the same file again"):
        intake(failing(transactions, 1), clock, chunk_rows=2).run(open_table(five_policies(tmp_path)))
    assert (count(probe, Policy), count(probe, CallbackTask)) == (0, 0)


def test_a_changed_policy_waits_held_for_the_phone_rules_and_an_unchanged_one_does_not(
        engine: Engine, probe: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    transactions = units_of_work(make_session_factory(engine))
    rows = [policy_row(policy_no="C0"), policy_row(policy_no="C1")]
    intake(transactions, clock).run(open_table(write_csv(tmp_path / "first.csv", rows)))
    moved = [rows[0], {**rows[1], "applicant_phone": "13912345678"}]
    with pytest.raises(ImportInterrupted):
        intake(failing(transactions, 2), clock).run(open_table(write_csv(tmp_path / "moved.csv", moved)))
    assert statuses(probe) == {"C0": TaskStatus.QUEUED, "C1": TaskStatus.HELD}


def test_phone_rules_see_numbers_shared_across_chunks(engine: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    rows = [policy_row(policy_no=f"S{i}", applicant_phone="13812345678") for i in range(3)]
    summary = intake(units_of_work(make_session_factory(engine)), clock, chunk_rows=1).run(
        open_table(write_csv(tmp_path / "shared.csv", rows)))
    assert (summary.held, summary.holds_added) == (3, 3)


def test_chunk_rows_must_be_positive(engine: Engine, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="chunk_rows must be at least 1, not 0"):
        intake(units_of_work(make_session_factory(engine)), clock, chunk_rows=0)
