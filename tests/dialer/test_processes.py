"""Several dialer processes on PostgreSQL: every task dialled exactly once, also when one is killed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.dialer.processes import NOW, drop_placements, finish, load_due, placements, start

TASKS = 2000


@pytest.fixture
def due(backend: str, engine: Engine, db_url: str, tmp_path: Path) -> Iterator[str]:
    if backend != "postgresql":
        pytest.skip("several dialer processes need PostgreSQL (SQLite runs one dialer)")
    load_due(engine, tmp_path, TASKS)
    yield db_url
    drop_placements(engine)


def test_four_dialers_dial_every_task_exactly_once(due: str, engine: Engine) -> None:
    processes = [start(due, f"d{i}") for i in range(4)]
    results = [finish(p) for p in processes]
    placed = placements(engine)
    assert len(placed) == TASKS
    assert set(placed.values()) == {1}
    assert sum(r["placed"] for r in results) == TASKS
    assert sum(1 for r in results if r["placed"]) >= 2  # the work was shared
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'in_progress'")).scalar() == TASKS
        assert conn.execute(text("SELECT count(*) FROM calls")).scalar() == TASKS


def test_a_killed_dialers_claims_are_taken_over_after_the_lease_still_exactly_once(due: str, engine: Engine) -> None:
    victim = start(due, "victim", NOW, "--latency-ms", "3")
    others = [start(due, f"d{i}", NOW, "--latency-ms", "3") for i in range(3)]
    for _ in range(100_000):  # wait (without sleeping) until the victim is mid-run, then kill it
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM fake_placements WHERE dialer = 'victim'")).scalar_one() >= 20:
                break
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for process in others:
        finish(process)
    with engine.connect() as conn:
        stranded = conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'dialing'")).scalar_one()
    assert stranded > 0  # the victim died holding claims
    # later, on the virtual clock: the lease has run out and another dialer takes the claims over
    later = NOW + timedelta(seconds=300 + 1)
    takeover = finish(start(due, "takeover", later))
    assert takeover["adopted"] + takeover["placed"] == stranded
    placed = placements(engine)
    assert len(placed) == TASKS
    assert set(placed.values()) == {1}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'in_progress'")).scalar() == TASKS
