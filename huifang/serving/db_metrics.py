"""Gauges read from the database when Prometheus scrapes: the same numbers from every worker and dialer.

Each scrape runs a handful of grouped counts in one read-only transaction, on a thread of its own with a
deadline (metrics.db_timeout_s; PostgreSQL also gets it as statement_timeout): a slow or unreachable
database makes the scrape report `huifang_metrics_database_up 0`, never hang it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from kit.clock import Clock
from storage.db import unit_of_work
from storage.repositories import metrics as counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    calls: dict[str, int]
    results: dict[str, int]
    cases: dict[str, int]
    recordings_pending: int
    in_flight: int
    due: int


def read_snapshot(sessions: sessionmaker[Session], clock: Clock, timeout_s: float) -> Snapshot:
    now = clock.now()
    with unit_of_work(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
        in_flight, due = counts.dialer_load(session, now)
        return Snapshot(calls=counts.calls_by_outcome(session), results=counts.results_by_class(session),
                        cases=counts.open_cases_by_sla(session, now),
                        recordings_pending=counts.recordings_pending(session), in_flight=in_flight, due=due)


class DatabaseCollector:
    """A prometheus_client collector: one database read per scrape, bounded in time."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, timeout_s: float) -> None:
        self.sessions, self.clock, self.timeout_s = sessions, clock, timeout_s
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _submit(self) -> Future[Snapshot]:
        with self._lock:  # made on first use: after gunicorn's fork, each worker has its own thread
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-db")
            return self._executor.submit(read_snapshot, self.sessions, self.clock, self.timeout_s)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        started = time.perf_counter()
        snapshot: Snapshot | None = None
        try:
            snapshot = self._submit().result(timeout=self.timeout_s)
        except FutureTimeout:
            log.warning("metrics: the database did not answer within %.1f s", self.timeout_s)
        except Exception as exc:  # the scrape still answers, saying the database is down
            log.warning("metrics: cannot read the database: %s", type(exc).__name__)
        up = GaugeMetricFamily("huifang_metrics_database_up", "1 when the scrape could read the database")
        up.add_metric([], 1.0 if snapshot else 0.0)
        yield up
        took = GaugeMetricFamily("huifang_metrics_database_seconds", "Time the scrape's database read took")
        took.add_metric([], time.perf_counter() - started)
        yield took
        if snapshot is None:
            return
        calls = CounterMetricFamily("huifang_calls", "Calls placed, by outcome", labels=["outcome"])
        for outcome, n in sorted(snapshot.calls.items()):
            calls.add_metric([outcome], n)
        yield calls
        results = CounterMetricFamily("huifang_call_results", "Calls classified, by result class",
                                      labels=["result_class"])
        for result_class, n in sorted(snapshot.results.items()):
            results.add_metric([result_class], n)
        yield results
        cases = GaugeMetricFamily("huifang_cases_open", "Open problem cases by SLA status", labels=["sla_status"])
        for status, n in sorted(snapshot.cases.items()):
            cases.add_metric([status], n)
        yield cases
        yield GaugeMetricFamily("huifang_recordings_pending", "Recordings announced by Twilio and not stored yet "
                                "(retried until stored)", value=snapshot.recordings_pending)
        yield GaugeMetricFamily("huifang_dialer_in_flight", "Tasks being dialled or on a call (all dialers)",
                                value=snapshot.in_flight)
        yield GaugeMetricFamily("huifang_dialer_due_backlog", "Queued tasks due now, not claimed yet",
                                value=snapshot.due)
