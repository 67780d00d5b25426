"""Helpers for the tests that run real dialer processes (tests/dialer/run_dialer.py) on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text

from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
NOW = local("2026-11-25T10:00:00")


def load_due(engine: Engine, tmp_path: Path, tasks: int) -> None:
    """`tasks` callback tasks due at NOW, and the fake provider's table of placements, emptied."""
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from kit.calendar import BusinessCalendar
    from kit.clock import FrozenClock
    from kit.settings import Settings
    from storage.db import make_session_factory, units_of_work

    path = write_csv(tmp_path / "due.csv", [policy_row() for _ in range(tasks)])
    with make_session_factory(engine)() as session, session.begin():
        summary = PolicyIntake(units_of_work(make_session_factory(engine)), settings=Settings(), calendar=BusinessCalendar(),
                               clock=FrozenClock(NOW)).run(open_table(path))
        assert summary.tasks_created == tasks
        session.execute(text("CREATE TABLE IF NOT EXISTS fake_placements (id serial PRIMARY KEY, task_id int, "
                             "sid text, dialer text, placed_at timestamptz, ended_at timestamptz, "
                             "slot_at timestamptz)"))
        session.execute(text("DELETE FROM fake_placements"))


def drop_placements(engine: Engine) -> None:
    with engine.begin() as conn:  # not a table of ours: leave the schema as the migrations made it
        conn.execute(text("DROP TABLE fake_placements"))


def start(url: str, name: str, now: datetime = NOW, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.dialer.run_dialer", url, name, now.isoformat(), *flags],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_together(url: str, count: int, *flags: str) -> list[subprocess.Popen[str]]:
    """`count` dialers, each connected and waiting, then told to go at once (no sleeping: a barrier)."""
    processes = [start(url, f"d{i}", NOW, "--barrier", *flags) for i in range(count)]
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line == "ready\n", process.stderr.read() if process.stderr else line
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    return processes


def finish(process: subprocess.Popen[str]) -> dict[str, float]:
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def placements(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT task_id, count(*) FROM fake_placements GROUP BY task_id"))
        return {task_id: n for task_id, n in rows}


def placement_times(engine: Engine) -> list[tuple[float, float | None]]:
    """(placed, ended) of every placement, in seconds on the database's clock, in order of placing."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT extract(epoch FROM placed_at)::float8, extract(epoch FROM ended_at)::float8 "
                                 "FROM fake_placements ORDER BY placed_at"))
        return [(placed, ended) for placed, ended in rows]


def slots_and_placements(engine: Engine) -> list[tuple[float, float]]:
    """(the pacing slot a placement waited for, when the provider got it), in seconds on the database's clock."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT extract(epoch FROM slot_at)::float8, extract(epoch FROM placed_at)::float8 "
                                 "FROM fake_placements ORDER BY slot_at"))
        return [(slot, placed) for slot, placed in rows]


def max_overlap(intervals: list[tuple[float, float | None]]) -> int:
    """The most calls live at one instant (a call that ends at the instant another is placed is not live)."""
    points = sorted([(placed, 1) for placed, _ in intervals]
                    + [(ended, -1) for _, ended in intervals if ended is not None], key=lambda p: (p[0], p[1]))
    live = most = 0
    for _, step in points:
        live += step
        most = max(most, live)
    return most


def most_in_a_window(times: list[float], window: float = 1.0) -> int:
    """The most placements inside any half-open window [t, t + window) (calls exactly 1/cps apart make cps
    a second, as a rate limiter counts them)."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window - 1e-6:  # the database keeps microseconds
            first += 1
        most = max(most, last - first + 1)
    return most
