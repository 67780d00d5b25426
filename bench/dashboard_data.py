"""The calls of the console benchmark's database (bench/console.py: the supervisor's dashboard reads them): one
call per attempt of every attempted task, added once to the database bench/queue_data.py built and marked by a
comment on the calls table (so a rebuilt database gets them again, and a built one keeps them).

Each attempted task's last call is the one that completed it (answered by the applicant, the task's result, ten
minutes before its completion); the attempts before it are spread over the days from the task's first day to
then, at calling hours, and went unanswered (no answer, busy, an answering machine) or were answered and hung up.
Today a share of the due tasks not yet completed were called and not reached, a few are on a call now."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from queue_data import NOW, copy_rows, log
from sqlalchemy import Engine, text

from kit.clock import BUSINESS_TZ
from storage.models import Call

CALLS_VERSION = 1  # bump when the generated calls change: they are then made again
MARKER = f"huifang-bench-dashboard calls v{CALLS_VERSION}"
UNANSWERED = (("no_answer", "no-answer", False), ("busy", "busy", False), ("machine", "completed", True),
              ("hangup", "completed", True))


def existing(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT obj_description('calls'::regclass, 'pg_class')")).scalar() or "")


def ensure_calls(engine: Engine, seed: int = 0) -> dict[str, Any]:
    """The calls, made unless the table's marker says they are there; how many and how long it took."""
    if existing(engine) == MARKER:
        with engine.connect() as conn:
            return {"reused": True, "calls": conn.execute(text("SELECT count(*) FROM calls")).scalar_one()}
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM calls"))  # not TRUNCATE … CASCADE: cases refer to calls
    log("generating the calls of every attempted task")
    count = copy_rows(engine, Call.__table__, _calls(engine, random.Random(seed)))  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('calls', 'id'), (SELECT max(id) FROM calls))"))
        conn.execute(text(f"COMMENT ON TABLE calls IS '{MARKER}'"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE calls"))
    return {"reused": False, "calls": count, "seconds": round(time.perf_counter() - started, 1)}


def _at(day: date, rng: random.Random) -> datetime:
    """A calling-hours instant of `day` (09:00–19:00 Beijing), in UTC."""
    return datetime.combine(day, dtime(9), tzinfo=BUSINESS_TZ).astimezone(UTC) + timedelta(
        minutes=rng.randint(0, 10 * 60 - 1))


def _tasks(engine: Engine) -> Iterator[tuple[int, int, str, int, str | None, datetime | None, date, date]]:
    with engine.connect().execution_options(stream_results=True, yield_per=20_000) as conn:
        yield from conn.execute(text(
            "SELECT id, policy_id, status, attempts, result_class, completed_at, opens_on, deadline "
            "FROM callback_tasks ORDER BY id"))  # type: ignore[misc]


def _calls(engine: Engine, rng: random.Random) -> Iterator[dict[str, Any]]:
    today = NOW.date()
    now = NOW.astimezone(UTC)
    number = 0
    for task_id, policy_id, status, attempts, result, completed_at, opens_on, _deadline in _tasks(engine):
        placed: list[tuple[datetime, str, str, bool, str | None]] = []  # (at, outcome, twilio status, answered, result)
        if status == "completed" and completed_at is not None:
            last = completed_at - timedelta(minutes=10)
            span = max(0, (last.astimezone(BUSINESS_TZ).date() - opens_on).days)
            for _ in range(max(0, attempts - 1)):
                day = opens_on + timedelta(days=rng.randint(0, span))
                at = min(_at(day, rng), last - timedelta(minutes=30))
                placed.append((at, *rng.choices(UNANSWERED, (50, 15, 15, 20))[0], None))
            placed.append((last, "completed", "completed", True, result))
        elif opens_on <= today and rng.random() < 0.6:  # due today, not completed: called this morning
            at = min(_at(today, rng), now - timedelta(minutes=rng.randint(1, 60)))
            live = rng.random() < 0.01
            placed.append((at, "in_progress", "in-progress", live, None) if live else
                          (at, *rng.choices(UNANSWERED[:3], (60, 20, 20))[0], None))
        for at, outcome, twilio, answered, cls in placed:
            number += 1
            yield {
                "id": number, "call_sid": f"CA{number:032d}", "task_id": task_id, "policy_id": policy_id,
                "twilio_status": twilio, "status_rank": 5, "attempt_counted": True, "outcome": outcome,
                "answered_by": "human" if answered and outcome != "machine" else ("machine_start" if answered else None),
                "started_at": at, "answered_at": at + timedelta(seconds=12) if answered else None,
                "ended_at": None if outcome == "in_progress" else at + timedelta(seconds=200 if cls else 30),
                "duration_s": None if outcome == "in_progress" else (200 if cls else 30),
                "flow_id": "new_business_a" if cls else None, "turn_seq": 0, "event_count": 0,
                "end_reason": "completed" if cls else None, "result_class": cls,
                "reason_codes": "[]" if cls in (None, "standard") else '["explanation_needed"]',
                "finished_at": at + timedelta(seconds=200) if cls else None, "created_at": at,
                "updated_at": at + timedelta(seconds=200 if cls else 30),
            }
