"""Fault: PostgreSQL restarted mid-campaign. Nothing lost, nothing doubled.

The server itself is not restarted (other tests share it): the restart is modelled from the clients' side,
as they meet it. The postgres superuser terminates every connection of the test database
(`pg_terminate_backend`) between dialer ticks, and in the middle of chosen transactions: webhooks (status,
answer, turn, recording callbacks, at a statement or at their COMMIT), the dialer's claim and the record of
a call it placed. The campaign (the real dialer, the real webhooks, the harness playing Twilio on the virtual
clock) must end exactly as the same cast's campaign without the fault: every task called once per attempt
it should have, the same results, cases and stored recordings; no webhook answered with an error (the
simulator is strict: Twilio would have logged it, and a failed status callback is never sent again).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.campaign import run_campaign
from ivr.harness.local import LocalHarness
from speech.cache import PromptCache
from storage.db import units_of_work
from storage.models import Call, CallbackTask, Case, Policy, Recording
from tests.conftest import PG_ADMIN_URL
from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv
from tests.ivr.conftest import build_ivr, text_mode_harness
from tests.ivr.harness.test_campaign import CAST

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

START = local("2026-11-25T09:00:00")


class Outage:
    """What a restart does to the clients: every connection of the database terminated by the superuser."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.terminated: list[int] = []

    def terminate(self) -> int:
        with self.admin.connect() as conn:  # waits (up to 5 s) until each backend is gone
            killed = conn.execute(text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": self.database}).scalar_one()
        self.terminated.append(killed)
        return int(killed)


@dataclass
class Strike:
    """Where the outage strikes inside a transaction: the `nth` request to `path` before its `statement`-th SQL
    statement or its `commit`-th COMMIT; or (path "dialer", outside any request) the `nth` statement
    containing every one of `sql`."""

    path: str
    nth: int
    statement: int = 0
    commit: int = 0
    sql: tuple[str, ...] = ()
    seen: int = 0
    fired: bool = False


class Strikes:
    """Fires the strikes: a WSGI middleware names the request in progress, engine events count its statements
    and COMMITs."""

    def __init__(self, harness: LocalHarness, engine: Engine, outage: Outage, plan: Iterable[Strike]) -> None:
        self.engine, self.outage, self.plan = engine, outage, list(plan)
        self.requests: Counter[str] = Counter()
        self.where, self.nth, self.statements, self.commits = "dialer", 0, 0, 0
        self.app: WSGIApplication = harness.app.wsgi_app
        harness.app.wsgi_app = self  # type: ignore[method-assign]
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        self.requests[path] += 1
        self.where, self.nth, self.statements, self.commits = path, self.requests[path], 0, 0
        try:
            return list(self.app(environ, start_response))
        finally:
            self.where = "dialer"

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements += 1
        for strike in self.plan:
            if strike.fired or strike.path != self.where:
                continue
            if self.where == "dialer":
                if all(part in statement for part in strike.sql):
                    strike.seen += 1
                    self._fire(strike, strike.seen == strike.nth)
            else:
                self._fire(strike, strike.nth == self.nth and strike.statement == self.statements)

    def _commit(self, _conn: Any) -> None:
        self.commits += 1
        for strike in self.plan:
            if not strike.fired and strike.path == self.where and strike.nth == self.nth:
                self._fire(strike, strike.commit == self.commits)

    def _fire(self, strike: Strike, now: bool) -> None:
        if now:
            strike.fired = True
            assert self.outage.terminate() >= 1  # this transaction's own connection at least


PLAN = [
    Strike("/twilio/voice/status", nth=2, statement=1),  # the first statement of a status callback
    Strike("/twilio/voice/status", nth=7, statement=3),  # after the call row was locked
    Strike("/twilio/voice/status", nth=12, commit=1),  # the callback's work done, its COMMIT lost
    Strike("/twilio/voice/answer", nth=2, statement=2),
    Strike("/twilio/voice/turn", nth=3, statement=4),
    Strike("/twilio/voice/turn", nth=9, commit=1),
    Strike("/twilio/recording", nth=1, commit=1),  # the announcement
    Strike("/twilio/recording", nth=3, commit=3),  # the downloaded file's record (the downloader's finish)
    Strike("dialer", nth=2, sql=("pg_advisory_xact_lock",)),  # the dialer's claim
    Strike("dialer", nth=3, sql=("FROM calls", "FOR UPDATE")),  # the record of a call Twilio created
]


def _campaign(engine: Engine, tmp_path: Path, prompt_cache: PromptCache,
              fault: Callable[[LocalHarness], Callable[[], object] | None]) -> dict[str, Any]:
    """The cast's campaign (as in test_campaign) over 15 days; its outcome per policy."""
    tmp_path.mkdir()
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(policy_no="C0"))
    path = write_csv(tmp_path / "more.csv", [policy_row(policy_no=f"C{i}") for i in range(1, 6)])
    PolicyIntake(units_of_work(ivr.svc.sessions), settings=ivr.svc.settings, calendar=ivr.svc.calendar,
                 clock=ivr.svc.clock).run(open_table(path))
    harness = text_mode_harness(ivr)
    summary = run_campaign(harness, CAST, START, days=15, between_ticks=fault(harness))
    with ivr.session() as s:
        tasks = {no: (task.status, task.result_class, task.reason_codes, task.attempts) for task, no in
                 s.execute(select(CallbackTask, Policy.policy_no).join(Policy))}
        calls: dict[str, list[tuple[Any, ...]]] = {no: [] for no in tasks}
        for no, outcome, result, counted, dialled in s.execute(
                select(Policy.policy_no, Call.outcome, Call.result_class, Call.attempt_counted, Call.dialled_number)
                .join(Policy, Policy.id == Call.policy_id).order_by(Call.id)):
            calls[no].append((outcome, result, counted, dialled is not None))
        recordings = Counter(no for no, in s.execute(
            select(Policy.policy_no).join(Call, Call.policy_id == Policy.id).join(Recording, Recording.call_id == Call.id)
            .where(Recording.status == "stored")))
        cases = sorted((no, c.type, c.reason) for c, no in s.execute(select(Case, Policy.policy_no).join(Policy)))
    return {"summary": summary, "tasks": tasks, "calls": calls, "recordings": recordings, "cases": cases}


def test_postgresql_restarted_mid_campaign_loses_and_doubles_nothing(
        backend: str, engine: Engine, db_url: str, tmp_path: Path, prompt_cache: PromptCache,
        caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> None:
    if backend != "postgresql":
        pytest.skip("models a PostgreSQL restart by terminating its connections; SQLite has no server")
    clean = _campaign(engine, tmp_path / "clean", prompt_cache, lambda harness: None)
    request.getfixturevalue("_databases").empty("postgresql")  # the same cast again, on an empty database

    outage = Outage(str(make_url(db_url).database))
    between: list[int] = []

    def between_ticks() -> None:  # restarted while nothing runs: the pool's idle connections are dead
        between.append(outage.terminate())

    strikes: list[Strikes] = []

    def fault(harness: LocalHarness) -> Callable[[], object]:
        strikes.append(Strikes(harness, engine, outage, PLAN))
        return between_ticks

    caplog.set_level(logging.WARNING, logger="storage.db")
    try:
        faulty = _campaign(engine, tmp_path / "outage", prompt_cache, fault)
    finally:
        for installed in strikes:
            installed.remove()
        outage.admin.dispose()

    assert [s for s in PLAN if not s.fired] == []  # every strike hit its transaction
    assert len(between) >= 5  # before every dialer tick
    assert all(killed >= 1 for killed in between)  # the pool's idle connections: each replaced when next used
    retried = [r.getMessage() for r in caplog.records if "trying again on a new connection" in r.getMessage()]
    assert len(retried) == len(PLAN), retried  # each transaction struck was done again, once (none between ticks)

    # nothing lost, nothing doubled: the campaign ends as it does without the fault
    assert faulty["tasks"] == clean["tasks"]
    assert faulty["calls"] == clean["calls"]  # each task called once per attempt it should have
    assert faulty["recordings"] == clean["recordings"]
    assert faulty["cases"] == clean["cases"]
    assert faulty["summary"] == clean["summary"]
    assert {no: len(calls) for no, calls in faulty["calls"].items()} == {
        "C0": 1, "C1": 1, "C2": 3, "C3": 3, "C4": 0, "C5": 1}
