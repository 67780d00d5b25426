"""Run-once jobs (storage.jobs): spaced by the job's record, exclusive by the advisory lock (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text

from storage.jobs import Skipped, run_once
from storage.locks import lock_key, try_hold
from storage.models import JobRun

GAP = timedelta(minutes=4)


def test_a_job_runs_once_then_waits_for_its_gap(engine: Engine) -> None:
    runs: list[str] = []
    first = run_once(engine, "sample", lambda: runs.append("a") or 7, min_gap=GAP, runner="host:1")
    second = run_once(engine, "sample", lambda: runs.append("b"), min_gap=GAP, runner="host:2")
    assert (first.ran, first.result) == (True, 7)
    assert (second.ran, second.skipped) == (False, Skipped.RECENT)
    assert runs == ["a"]
    with engine.connect() as conn:
        row = conn.execute(select(JobRun.runner, JobRun.started_at, JobRun.finished_at)).one()
    assert row.runner == "host:1"
    assert row.finished_at is not None
    assert row.finished_at >= row.started_at


def test_another_job_or_an_elapsed_gap_runs(engine: Engine) -> None:
    runs: list[str] = []
    run_once(engine, "sample", lambda: runs.append("a"), min_gap=GAP)
    assert run_once(engine, "other", lambda: runs.append("b"), min_gap=GAP).ran
    assert run_once(engine, "sample", lambda: runs.append("c"), min_gap=timedelta(0)).ran
    assert runs == ["a", "b", "c"]


def test_a_failed_run_lets_the_next_one_go(engine: Engine) -> None:
    def broken() -> None:
        raise RuntimeError("download failed")

    with pytest.raises(RuntimeError):
        run_once(engine, "sample", broken, min_gap=timedelta(0))
    assert run_once(engine, "sample", lambda: "ok", min_gap=timedelta(0)).result == "ok"


def test_a_job_another_process_is_running_is_skipped(backend: str, engine: Engine) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs one dialer: no advisory locks")
    with engine.connect() as other:  # another dialer, mid-run
        assert other.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key("job:sample")}).scalar_one()
        other.commit()
        outcome = run_once(engine, "sample", lambda: "ran", min_gap=timedelta(0))
        assert (outcome.ran, outcome.skipped) == (False, Skipped.BUSY)
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("job:sample")})
        other.commit()
    assert run_once(engine, "sample", lambda: "ran", min_gap=timedelta(0)).ran


def test_the_lock_is_released_after_the_block_and_keys_are_stable(backend: str, engine: Engine) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs one dialer: no advisory locks")
    # pinned: dialers of two releases running side by side during a deploy must agree on every key
    assert lock_key("dialer:claims") == 1713825855587473183
    assert lock_key("job:sla_sweep") == 8661257512797221195
    with try_hold(engine, "job:x") as held, try_hold(engine, "job:x") as again:
        assert (held, again) == (True, False)  # not re-entrant across connections
    with engine.connect() as conn:
        held_now = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                                    "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one()
    assert held_now == 0  # in this database: another one's dialers (a bench, a second checkout) hold their own
