"""API benchmark: policies per second through POST /api/v1/policies over real HTTP, on PostgreSQL.

    .venv/bin/python bench/api.py [--policies 50000] [--batch 1000] [--clients 2] [--server gunicorn|werkzeug]
                                  [--workers 2] [--threads 4] [--profile] [--keep-db]

A database of its own (huifang_bench_api_PID) is created and migrated, and an API key made. `huifang serve
--webhooks-only` (gunicorn, gthread: the production server; `--server werkzeug` runs `--dev`, threaded) serves the
composed app on a free port with [api] rate_per_minute raised out of the way. `--policies` synthetic policies
(huifang.synthetic, English field names, empty fields left out) are sent in batches of `--batch` by `--clients`
threads, each on a keep-alive connection, bodies serialised before the clock starts. Measured: wall time and
policies/s for the first import (new policies and tasks) and for the same batches sent again (every policy
unchanged: the idempotent path by policy_no), request latency percentiles, what the database holds afterwards,
and CPU seconds of the server tree, PostgreSQL and the whole machine (its load average too), so a number below
the target can be read against what the machine had to give.

`--profile` adds an in-process cProfile of one batch through the same route (Flask test client, no HTTP) after
the HTTP runs: the top functions by cumulative time, to find the floor. JSON on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "bench")]

from api.keys import add_key  # noqa: E402
from bench.common import PG_SERVER, admin, free_port, log, wait_until_answering  # noqa: E402
from bench.load_measure import percentiles, snapshot, used  # noqa: E402
from huifang.app import App  # noqa: E402
from huifang.config import load_settings  # noqa: E402
from huifang.synthetic import synthetic_rows  # noqa: E402
from storage import migrate  # noqa: E402

DATABASE = f"huifang_bench_api_{os.getpid()}"
TODAY = date(2026, 11, 25)  # a day whose cooling-off periods the bundled holiday calendar covers
NOW = "2026-11-25T12:00:00+08:00"
TARGET = 5000








def environment(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, str]:
    return {"HUIFANG_DATABASE_URL": url, "HUIFANG_NOW": NOW, "HUIFANG__TWILIO__AUTH_TOKEN": "bench-api-token",
            "HUIFANG__WEB__WORKERS": str(args.workers), "HUIFANG__WEB__THREADS": str(args.threads),
            "HUIFANG__WEB__TIMEOUT": "120",
            "HUIFANG__SPEECH__PROMPT_CACHE_DIR": str(workdir / "prompts"),
            "HUIFANG__SPEECH__PROMPT_URL_SECRET": "bench-api-prompt-secret-0123456789abcdef",
            "HUIFANG__RECORDINGS__ROOT": str(workdir / "recordings"),
            "HUIFANG__API__RATE_PER_MINUTE": "1000000", "HUIFANG__API__MAX_BATCH": str(max(args.batch, 1000))}


def make_bodies(args: argparse.Namespace) -> list[bytes]:
    records = [{k: v for k, v in row.items() if v != ""}
               for row in synthetic_rows(args.policies, seed=args.seed, today=TODAY)]
    return [json.dumps({"policies": records[i:i + args.batch]}, ensure_ascii=False).encode()
            for i in range(0, len(records), args.batch)]


def send_all(base: str, key: str, bodies: list[bytes], clients: int) -> dict[str, Any]:
    """Every body POSTed once by `clients` threads; wall time, latency, statuses, the summed answers."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    totals: dict[str, int] = {}

    def worker() -> None:
        with requests.Session() as session:
            session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop(0)
                started = time.perf_counter()
                response = session.post(f"{base}/api/v1/policies", data=body, timeout=300)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed * 1000)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        for name, value in response.json().items():
                            if isinstance(value, int):
                                totals[name] = totals.get(name, 0) + value
                    else:
                        log(f"HTTP {response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    records = totals.get("received", 0)
    return {"wall_s": round(wall, 2), "policies_per_s": round(records / wall), "requests": len(bodies),
            "statuses": {str(k): v for k, v in statuses.items()}, "latency_ms": percentiles(latencies),
            "answers": totals}


def measured(groups: dict[str, list[int]], run: Any) -> dict[str, Any]:
    load_before = os.getloadavg()
    before = snapshot(groups)
    out: dict[str, Any] = run()
    out["cpu_s"] = used(before, snapshot(groups))
    out["loadavg_1m_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return out


def database_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
               for table in ("policies", "callback_tasks", "task_holds", "cases", "audit_events")}
    engine.dispose()
    return out




def profile_one_batch(env: dict[str, str], key: str, body: bytes, only: str) -> dict[str, Any]:
    """One batch through the route in this process (no HTTP), under cProfile: where a batch's time goes."""
    from datetime import datetime

    from huifang.web import build_services, compose
    from kit.clock import FrozenClock

    app = App(settings=load_settings(environ=env), clock=FrozenClock(datetime.fromisoformat(NOW)))
    client = compose(app, build_services(app, with_asr=False), secret=None).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    response = client.post("/api/v1/policies", data=body, content_type="application/json", headers=headers)
    profiler.disable()
    wall = time.perf_counter() - started
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(only, 40)
    app.close()
    return {"status": response.status_code, "wall_s": round(wall, 3), "answer": response.get_json(),
            "top_cumulative": [line for line in stream.getvalue().splitlines() if line.strip()][:55]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2, help="client threads, each on its own connection")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-only", default=r"intake/|api/|phone_quality|json|validate",
                        help="the profile's functions whose file or name match this regular expression")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-api-"))
    url = PG_SERVER + DATABASE
    env = environment(url, workdir, args)
    admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin(f"CREATE DATABASE {DATABASE}")
    server: subprocess.Popen[bytes] | None = None
    try:
        app = App(settings=load_settings(environ=env))
        migrate.upgrade(app.engine)
        with app.unit_of_work() as session:
            key = str(add_key(session, "bench", ["policies:write"], by="bench", now=app.clock.now())["key"])
            session.commit()
        app.close()
        log(f"generating {args.policies} policies")
        bodies = make_bodies(args)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cli = [sys.executable, "-c", "from huifang.cli import main; main()"]
        mode = ["--dev"] if args.server == "werkzeug" else []
        log_path = workdir / "serve.log"
        server = subprocess.Popen([*cli, "serve", "--webhooks-only", *mode, "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=workdir, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                  stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))  # noqa: SIM115
        wait_until_answering(f"{base}/api/v1/openapi.json", log_path)
        groups = {"server": [server.pid]}
        log(f"first import: {len(bodies)} batches of {args.batch} with {args.clients} clients ({args.server})")
        first = measured(groups, lambda: send_all(base, key, bodies, args.clients))
        log(f"  {first['policies_per_s']} policies/s; again (every policy unchanged)")
        again = measured(groups, lambda: send_all(base, key, bodies, args.clients))
        log(f"  {again['policies_per_s']} policies/s")
        out: dict[str, Any] = {
            "target_policies_per_s": TARGET, "policies": args.policies, "batch": args.batch, "clients": args.clients,
            "server": {"kind": args.server, "workers": args.workers, "threads": args.threads},
            "machine": {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]},
            "first_import": first, "same_batches_again": again, "database": database_counts(url),
            "met_target": first["policies_per_s"] >= TARGET,
        }
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server = None
        if args.profile:
            log("profiling one batch in-process")
            extra = {k: v for k, v in env.items()}
            fresh = json.loads(make_bodies(argparse.Namespace(policies=args.batch, batch=args.batch, seed=args.seed + 1))[0])
            for item in fresh["policies"]:  # new policies (synthetic numbers repeat across seeds)
                item["policy_no"] = "PROF" + item["policy_no"]
            out["profile_one_batch"] = profile_one_batch(extra, key, json.dumps(fresh, ensure_ascii=False).encode(),
                                                      args.profile_only)
        print(json.dumps(out, ensure_ascii=False, indent=2))
    finally:
        if server is not None:
            server.kill()
        if not args.keep_db:
            admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
