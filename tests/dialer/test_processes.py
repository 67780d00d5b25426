"""Several dialer processes on PostgreSQL: every task dialled exactly once, also when one is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
NOW = local("2026-11-25T10:00:00")
TASKS = 2000


@pytest.fixture
def due(backend: str, engine: Engine, db_url: str, tmp_path: Path) -> Iterator[str]:
    if backend != "postgresql":
        pytest.skip("several dialer processes need PostgreSQL (SQLite runs one dialer)")
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from kit.calendar import BusinessCalendar
    from kit.clock import FrozenClock
    from kit.settings import Settings
    from storage.db import make_session_factory, units_of_work

    path = write_csv(tmp_path / "due.csv", [policy_row() for _ in range(TASKS)])
    sessions = make_session_factory(engine)
    summary = PolicyIntake(units_of_work(sessions), settings=Settings(), calendar=BusinessCalendar(),
                           clock=FrozenClock(NOW)).run(open_table(path))
    assert summary.tasks_created == TASKS
    with sessions() as session, session.begin():
        session.execute(text("CREATE TABLE IF NOT EXISTS fake_placements (id serial PRIMARY KEY, task_id int, "
                             "sid text, dialer text)"))
        session.execute(text("DELETE FROM fake_placements"))
    yield db_url
    with engine.begin() as conn:  # not a table of ours: leave the schema as the migrations made it
        conn.execute(text("DROP TABLE fake_placements"))


def _start(url: str, name: str, now: str, latency_ms: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.dialer.run_dialer", url, name, now, str(latency_ms)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _placements(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT task_id, count(*) FROM fake_placements GROUP BY task_id"))
        return {task_id: n for task_id, n in rows}


def _finish(process: subprocess.Popen[str]) -> dict[str, int]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    result: dict[str, int] = json.loads(out)
    return result


def test_four_dialers_dial_every_task_exactly_once(due: str, engine: Engine) -> None:
    processes = [_start(due, f"d{i}", NOW.isoformat()) for i in range(4)]
    results = [_finish(p) for p in processes]
    placements = _placements(engine)
    assert len(placements) == TASKS
    assert set(placements.values()) == {1}
    assert sum(r["placed"] for r in results) == TASKS
    assert sum(1 for r in results if r["placed"]) >= 2  # the work was shared
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'in_progress'")).scalar() == TASKS
        assert conn.execute(text("SELECT count(*) FROM calls")).scalar() == TASKS


def test_a_killed_dialers_claims_are_taken_over_after_the_lease_still_exactly_once(due: str, engine: Engine) -> None:
    victim = _start(due, "victim", NOW.isoformat(), latency_ms=3)
    others = [_start(due, f"d{i}", NOW.isoformat(), latency_ms=3) for i in range(3)]
    for _ in range(100_000):  # wait (without sleeping) until the victim is mid-run, then kill it
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM fake_placements WHERE dialer = 'victim'")).scalar_one() >= 20:
                break
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for process in others:
        _finish(process)
    with engine.connect() as conn:
        stranded = conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'dialing'")).scalar_one()
    assert stranded > 0  # the victim died holding claims
    # later, on the virtual clock: the lease has run out and another dialer takes the claims over
    later = NOW + timedelta(seconds=300 + 1)
    takeover = _finish(_start(due, "takeover", later.isoformat()))
    assert takeover["adopted"] + takeover["placed"] == stranded
    placements = _placements(engine)
    assert len(placements) == TASKS
    assert set(placements.values()) == {1}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'in_progress'")).scalar() == TASKS
