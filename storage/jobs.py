"""Jobs that must run once per interval across every process that schedules them (the SLA sweep, recording
retries; later sampling and notifications).

A run goes ahead only when (1) this process gets the job's advisory lock without waiting (PostgreSQL,
storage.locks.try_hold: no two runs overlap) and (2) the job's row in `job_runs` says no process started it
less than `min_gap` ago (by the database's clock: the processes' schedules are not in step, so the lock alone
would let each of four dialers run the job once per interval). Both checks are skipped runs, not errors.
SQLite runs one dialer: no lock is needed, and the check-and-set of (2) runs under SQLite's write lock.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from storage.locks import database_now, try_hold
from storage.models import JobRun

log = logging.getLogger(__name__)
T = TypeVar("T")


class Skipped(StrEnum):
    BUSY = "busy"  # another process is running it now
    RECENT = "recent"  # another process started it less than min_gap ago


@dataclass(frozen=True)
class JobOutcome(Generic[T]):
    name: str
    skipped: Skipped | None
    result: T | None = None

    @property
    def ran(self) -> bool:
        return self.skipped is None


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def run_once(engine: Engine, name: str, job: Callable[[], T], *, min_gap: timedelta,
             runner: str | None = None) -> JobOutcome[T]:
    """Run `job` unless another process is running it or started it less than `min_gap` ago."""
    sessions = sessionmaker(engine, expire_on_commit=False)
    with try_hold(engine, f"job:{name}") as held:
        if not held:
            log.debug("job %s: running elsewhere, skipped", name)
            return JobOutcome(name, Skipped.BUSY)
        with unit_of_work(sessions) as session:
            if not _start(session, name, min_gap, runner or runner_name()):
                log.debug("job %s: ran less than %s ago, skipped", name, min_gap)
                return JobOutcome(name, Skipped.RECENT)
            session.commit()
        result = job()
        with unit_of_work(sessions) as session:
            session.execute(update(JobRun).where(JobRun.name == name).values(finished_at=database_now(session)))
            session.commit()
    return JobOutcome(name, None, result)


def _start(session: Session, name: str, min_gap: timedelta, runner: str) -> bool:
    """Record a run of `name` starting now, unless one started less than `min_gap` ago (row locked)."""
    now = database_now(session)
    last = session.scalars(select(JobRun).where(JobRun.name == name).with_for_update()).one_or_none()
    if last is None:
        session.add(JobRun(name=name, started_at=now, finished_at=None, runner=runner))
        return True  # no other process inserts it meanwhile: it holds the job's lock or SQLite's write lock
    if now - last.started_at < min_gap:
        return False
    last.started_at, last.finished_at, last.runner = now, None, runner
    return True
