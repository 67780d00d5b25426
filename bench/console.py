"""Console benchmark: the case queue `GET /console/cases` over 100,000 open cases in 20 branches, and the
supervisor's dashboard `GET /console/` and KPI page `GET /console/reports/kpi` over 1,000,000 policies' tasks and
their calls, on PostgreSQL.

    .venv/bin/python bench/console.py [--open 100000] [--closed 100000] [--policies 1000000] [--runs 30]
        [--warmup 3] [--revision head] [--churn 0.01] [--only NAME,…] [--rebuild] [--drop] [--explain-all]

1. Builds a dedicated database (huifang_bench_console) once and reuses it while its marker (the database's
   comment: sizes, seed, data version) matches: policies from huifang.synthetic over twelve months in the 20
   synthetic branches, a callback task per policy that needs one, open cases (more of them recent, so the
   SLA mix is normal / warning / overdue as a real backlog's) beside closed ones, some assigned; loaded with
   COPY, then VACUUM ANALYZE. `--rebuild` builds it again, `--drop` drops it at the end. The calls the
   dashboard reads (one per attempt of every attempted task, bench/dashboard_data.py) are added once, marked
   by the calls table's comment.
2. Puts the schema at `--revision` (`head`, or e.g. `0009` for the schema without the queue indexes) and
   VACUUM ANALYZEs. `--churn 0.01` then updates 1 % of the open cases (no change, a new row version) so
   their pages are not all-visible, as between two autovacuums: index-only scans read those pages.
3. Mounts the console on a Flask app as huifang.web does, signs in a branch user (one branch) and a
   supervisor with the test client (in process: no network), and times each request of a representative set
   (default page, each filter, a deep page) over `--runs` rounds after `--warmup` rounds, the requests
   interleaved within a round so a burst of load on this shared machine hits them all alike. Reports p50 /
   p95 / max of the server time (the whole request: session, queries, template) and of the SQL inside it,
   against each request's target: 300 ms p95 for the queue, 500 ms for the dashboard (a full page, and the
   part htmx asks for every 60 s), 1.5 s for the KPI page (each grouping).
4. Writes EXPLAIN (ANALYZE, BUFFERS) of the slowest request's slowest statement (of every request's with
   `--explain-all`) to bench/out/console-explain-<revision>.txt.
Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if sys.path[0] != str(ROOT):  # run as a script: the checkout first, before bench/ (whose intake.py and console.py
    sys.path.insert(0, str(ROOT))  # are not the packages), also when PYTHONPATH names the checkout after bench/

from console_db import (  # noqa: E402  (bench/console_db.py: the benchmark database itself)
    PG_DATABASE,
    PG_SERVER,
    current_revision,
    drop_database,
    existing_marker,
    set_marker,
    set_revision,
    vacuum_analyze,
)
from console_requests import (  # noqa: E402  (bench/console_requests.py: what is timed)
    DASHBOARD_TARGET_P95_MS,
    KPI_TARGET_P95_MS,
    TARGET_P95_MS,
    Request,
    campaign_dataset,
    pick,
    requests_for,
)
from dashboard_data import ensure_calls  # noqa: E402  (bench/dashboard_data.py: the calls)
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from queue_data import (  # noqa: E402  (bench/queue_data.py: its data)
    BRANCH_USER,
    NOW,
    PASSWORD,
    SUPERVISOR,
    build,
    churn,
    dataset,
    log,
    marker_of,
)
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402

from cases.queue import QueueFilter  # noqa: E402
from console.app import mount_console  # noqa: E402
from console.context import ConsoleContext  # noqa: E402
from huifang.config import load_settings  # noqa: E402
from kit.calendar import BusinessCalendar  # noqa: E402
from kit.clock import FrozenClock  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402

OUT = ROOT / "bench" / "out"


# --- the requests ---------------------------------------------------------------------------------------------

class SqlTimer:
    """Times every statement the engine runs; `take()` hands over (and forgets) those since the last call."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[tuple[str, Any, float]] = []
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        self.statements.append((statement, parameters, time.perf_counter() - self._started.pop()))

    def take(self) -> list[tuple[str, Any, float]]:
        taken, self.statements = self.statements, []
        return taken


def sign_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on the sign-in page")
    reply = client.post("/console/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)})
    if reply.status_code != 302:
        raise SystemExit(f"{name} could not sign in: {reply.status_code}")
    return client


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(app: Flask, timer: SqlTimer, requests: list[Request], runs: int,
            warmup: int) -> tuple[dict[str, Any], dict[str, list[tuple[str, Any, float]]]]:
    clients = {name: sign_in(app, name) for name in {r.user for r in requests}}
    totals: dict[str, list[float]] = {r.name: [] for r in requests}
    sql: dict[str, list[float]] = {r.name: [] for r in requests}
    per_statement: dict[str, dict[str, list[float]]] = {r.name: {} for r in requests}
    last: dict[str, dict[str, tuple[str, Any]]] = {r.name: {} for r in requests}
    rows: dict[str, int] = {}
    for round_ in range(warmup + runs):
        for r in requests:
            timer.take()
            started = time.perf_counter()
            reply = clients[r.user].get(r.url, headers=dict(r.headers))
            elapsed = time.perf_counter() - started
            statements = timer.take()
            if reply.status_code != 200:
                raise SystemExit(f"{r.name}: HTTP {reply.status_code}")
            rows[r.name] = len(re.findall(r'<td><a href="/console/cases/\d+">', reply.get_data(as_text=True)))
            if round_ < warmup:
                continue
            totals[r.name].append(elapsed * 1000)
            sql[r.name].append(sum(s[2] for s in statements) * 1000)
            for statement, params, seconds in statements:
                head = " ".join(statement.split())[:60]
                per_statement[r.name].setdefault(head, []).append(seconds * 1000)
                last[r.name][head] = (statement, params)
    stats: dict[str, Any] = {}
    slowest_statements: dict[str, list[tuple[str, Any, float]]] = {}
    for r in requests:
        times = totals[r.name]
        stats[r.name] = {
            "url": r.url, "headers": dict(r.headers), "user": r.user, "rows": rows[r.name], "target_p95_ms": r.target_ms,
            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1), "min_ms": round(min(times), 1),
            "sql_p50_ms": round(statistics.median(sql[r.name]), 1),
            "sql_p95_ms": round(percentile(sql[r.name], 0.95), 1),
            "statements_p50_ms": {head: round(statistics.median(v), 1)
                                  for head, v in sorted(per_statement[r.name].items(), key=lambda kv: -statistics.median(kv[1]))},
        }
        slowest_statements[r.name] = sorted(
            ((s, p, statistics.median(per_statement[r.name][h])) for h, (s, p) in last[r.name].items()),
            key=lambda x: -x[2])
    return stats, slowest_statements


def explain(engine: Engine, name: str, statement: str, params: Any, median_ms: float) -> str:
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).scalars().all()
        conn.rollback()
    return (f"== {name}: the slowest statement (median {median_ms:.1f} ms in the app)\n{statement}\n"
            f"-- parameters: {params!r}\n\n" + "\n".join(plan) + "\n\n")


def prepared(engine: Engine) -> list[dict[str, Any]]:
    """The statements psycopg prepared on the app's pooled connections and how PostgreSQL planned them (a
    generic plan does not see the parameters' values, so it cannot use a partial index). psycopg prepares a
    statement at its sixth run on a connection but forgets them all at a ROLLBACK, which ends every console
    request that reads: expect none, i.e. every query planned with its parameters."""
    out = []
    held = [engine.connect() for _ in range(max(1, engine.pool.checkedin()))]  # type: ignore[attr-defined]
    try:
        for conn in held:
            for row in conn.exec_driver_sql("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"):
                out.append({"statement": " ".join(row[0].split())[:100], "generic": row[1], "custom": row[2]})
    finally:
        for conn in held:
            conn.close()
    return out


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def postgres(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        out = {"version": conn.execute(text("SHOW server_version")).scalar_one()}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit",
                     "plan_cache_mode", "autovacuum", "max_parallel_workers_per_gather"):
            out[name] = conn.execute(text(f"SHOW {name}")).scalar_one()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=100_000, help="open cases")
    parser.add_argument("--closed", type=int, default=100_000, help="closed cases beside them (history)")
    parser.add_argument("--policies", type=int, default=1_000_000,
                        help="policies (a case's own and the many without a case)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--branch", default="110100", help="the branch user's branch")
    parser.add_argument("--runs", type=int, default=30, help="timed rounds over every request")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--revision", default="head", help="schema revision to measure (e.g. 0009: no queue indexes)")
    parser.add_argument("--build-revision", default="0009", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="comma-separated request names to run (default: all)")
    parser.add_argument("--explain-all", action="store_true", help="EXPLAIN every request's slowest statement")
    parser.add_argument("--churn", type=float, default=0.0,
                        help="share of open cases updated (a new row version, no change) before timing and not yet "
                             "vacuumed, as between two autovacuums; VACUUMed again at the end")
    parser.add_argument("--rebuild", action="store_true", help="build the database even if its marker matches")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()

    url = PG_SERVER + PG_DATABASE
    settings = load_settings(environ={"HUIFANG_DATABASE_URL": url})
    marker = marker_of(args)
    built: dict[str, Any] = {"reused": True}
    if args.rebuild or existing_marker() != marker:
        log(f"building {PG_DATABASE}: {args.policies} policies, {args.open} open + {args.closed} closed cases")
        started = time.perf_counter()
        built = {"reused": False, **build(args, url, settings)}
        built["total_s"] = round(time.perf_counter() - started, 1)
        set_marker(marker)
        log(f"built in {built['total_s']} s")
    else:
        log(f"reusing {PG_DATABASE} ({marker})")
    engine = make_engine(url)
    before = current_revision(engine)
    revision = set_revision(engine, args.revision)
    log(f"schema {before} -> {revision}; VACUUM ANALYZE")
    vacuum_analyze(url)  # every run starts from a vacuumed table (a --churn run before may have been cut short)

    calls = ensure_calls(engine, args.seed)
    log(f"calls: {calls}")
    churned = churn(engine, args.churn, args.seed) if args.churn else None
    out: dict[str, Any] = {"machine": machine(), "postgres": postgres(engine), "revision": revision,
                           "now": NOW.isoformat(), "database": {"name": PG_DATABASE, "marker": marker, **built},
                           "dataset": {**dataset(engine, args.branch), **campaign_dataset(engine)}, "calls": calls,
                           "churn": churned}
    fields = {f.name for f in dataclasses.fields(QueueFilter)}
    requests, skipped = requests_for(pick(engine, args.branch), fields)
    if args.only:
        wanted = set(args.only.split(","))
        requests = [r for r in requests if r.name in wanted]
        if not requests:
            raise SystemExit(f"--only {args.only}: no such request")
    app = Flask("bench-console")
    clock = FrozenClock(NOW)
    mount_console(app, ConsoleContext(settings, clock, BusinessCalendar(settings.calendar),
                                      make_session_factory(engine)), "b" * 40, https=False)
    timer = SqlTimer(engine)
    log(f"{len(requests)} requests × ({args.warmup} warm-up + {args.runs} timed) rounds")
    started = time.perf_counter()
    stats, statements = measure(app, timer, requests, args.runs, args.warmup)
    out["measure_s"] = round(time.perf_counter() - started, 1)
    out["prepared_statements"] = prepared(engine)
    out["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out |= {"runs": args.runs, "warmup": args.warmup, "users": {BRANCH_USER: [args.branch], SUPERVISOR: "all"},
            "requests": stats, "skipped": skipped,
            "target_p95_ms": {"queue": TARGET_P95_MS, "dashboard": DASHBOARD_TARGET_P95_MS, "kpi": KPI_TARGET_P95_MS}}
    slowest = max(stats, key=lambda n: stats[n]["p95_ms"])
    out["slowest"] = {"request": slowest, "p95_ms": stats[slowest]["p95_ms"]}
    out["pass"] = all(s["p95_ms"] <= s["target_p95_ms"] for s in stats.values())
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"console-explain-{revision}.txt"
    timer_off = [slowest] + ([n for n in stats if n != slowest] if args.explain_all else [])
    event.remove(engine, "before_cursor_execute", timer._before)
    event.remove(engine, "after_cursor_execute", timer._after)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f"# bench/console.py, revision {revision}, {datetime.now(UTC).isoformat(timespec='seconds')}\n\n")
        for name in timer_off:
            statement, params, median_ms = statements[name][0]
            handle.write(explain(engine, name, statement, params, median_ms))
    out["explain_file"] = str(path.relative_to(ROOT))
    engine.dispose()
    if args.churn:
        vacuum_analyze(url)
    if args.drop:
        drop_database()
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
