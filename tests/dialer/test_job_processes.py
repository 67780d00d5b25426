"""Jobs that run once per interval across all dialer processes, with real processes on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text

from cases.sla import due_at, warn_at
from flows.vocab import CaseType
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from kit.vocab import CaseStatus, SlaStatus
from storage.db import make_session_factory, units_of_work
from storage.models import Case, CaseEvent, Policy
from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
NOW = local("2026-11-25T10:00:00")
CASES = 2000
POLICIES = 20


@pytest.fixture
def open_cases(backend: str, engine: Engine, db_url: str, tmp_path: Path) -> str:
    """2,000 open verification cases opened six days ago: every one is due to turn `warning` at NOW."""
    if backend != "postgresql":
        pytest.skip("several dialer processes need PostgreSQL (SQLite runs one dialer)")
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from kit.clock import FrozenClock

    settings = Settings()
    opened = NOW - timedelta(days=6)
    due = due_at(opened, settings.cases.sla[CaseType.VERIFICATION_CASE.value], BusinessCalendar())
    path = write_csv(tmp_path / "p.csv", [policy_row() for _ in range(POLICIES)])
    with make_session_factory(engine)() as session, session.begin():
        PolicyIntake(units_of_work(make_session_factory(engine)), settings=settings, calendar=BusinessCalendar(), clock=FrozenClock(opened)).run(
            open_table(path))
        policies = list(session.execute(select(Policy.id, Policy.branch_id)))
        session.execute(insert(Case), [
            {"policy_id": policies[i % POLICIES][0], "branch_id": policies[i % POLICIES][1], "task_id": None,
             "type": CaseType.VERIFICATION_CASE, "reason": "unreachable", "status": CaseStatus.OPEN,
             "detail": "", "due_at": due, "warn_at": warn_at(opened, due, settings.cases),
             "sla_status": SlaStatus.NORMAL, "created_at": opened, "updated_at": opened}
            for i in range(CASES)])
    return db_url


def _start(url: str, job: str, *flags: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.dialer.run_job", url, NOW.isoformat(), job, *flags],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line == "ready\n", process.stderr.read() if process.stderr else line
    return process


def _together(url: str, job: str, count: int, *flags: str) -> list[dict[str, Any]]:
    """`count` dialer processes, each connected and waiting, told to run the job at the same instant."""
    processes = [_start(url, job, *flags) for _ in range(count)]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        assert process.returncode == 0, err
        results.append(json.loads(out))
    return results


def _sla_events(engine: Engine) -> tuple[int, int]:
    """(sla_warning events recorded, cases now warning)."""
    with engine.connect() as conn:
        events = conn.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "sla_warning"))
        warning = conn.scalar(select(func.count()).select_from(Case).where(Case.sla_status == SlaStatus.WARNING))
    return events or 0, warning or 0


def test_dialers_starting_the_sla_sweep_at_once_run_it_once(open_cases: str, engine: Engine) -> None:
    results = _together(open_cases, "sla_sweep", 3)
    assert [r["result"] for r in results if r["ran"]] == [{"normal": 0, "warning": CASES, "overdue": 0}]
    assert {r["skipped"] for r in results if not r["ran"]} <= {"busy", "recent"}  # running, or just ran
    assert _sla_events(engine) == (CASES, CASES)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT name, finished_at IS NOT NULL FROM job_runs")).all()
    assert [tuple(r) for r in runs] == [("sla_sweep", True)]


def test_sweeps_that_overlap_anyway_record_each_change_once(open_cases: str, engine: Engine) -> None:
    results = _together(open_cases, "sla_sweep", 3, "--unguarded")  # no lock: the sweeps themselves overlap
    assert sum(r["result"]["warning"] for r in results) == CASES  # each case moved by exactly one of them
    assert _sla_events(engine) == (CASES, CASES)
