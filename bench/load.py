"""Load benchmark: concurrent simulated calls over real HTTP against `huifang serve` (gunicorn) on PostgreSQL.

    .venv/bin/python bench/load.py [--levels 10,50,100] [--harness-procs 4] [--workers 2] [--threads 8]

A dedicated PostgreSQL database (huifang_bench_load) is created, migrated and filled with synthetic policies;
`huifang serve --webhooks-only` runs as a subprocess (gunicorn, config from HUIFANG_* environment variables,
keypad capture: no speech model). For each concurrency level, harness processes (multiprocessing) each drive
their share of the calls at once, one thread per call, with the harness's Simulator (persona: keypad answers,
"yes" to everything) over real HTTP, every request Twilio-signed. The harness plays the dialer's placement
itself — not real dialer processes: it claims the task and registers the call as dialer.loop does (CLAIM, call
row, PLACED), renders its prompts (calls.service.prepare), then Twilio posts the status callbacks and the answer
webhook. Latency is measured by the harness (request sent → response read) per route. Every call must end
with result class "standard". Server CPU: utime+stime of the gunicorn master and workers from /proc.
Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
from calls.service import prepare  # noqa: E402
from huifang.app import App  # noqa: E402
from huifang.config import load_settings  # noqa: E402
from huifang.synthetic import write_csv  # noqa: E402
from huifang.web import build_services  # noqa: E402
from intake.reader import open_table  # noqa: E402
from intake.service import PolicyIntake  # noqa: E402
from ivr.harness.local import DatabaseOracle, HttpTransport  # noqa: E402
from ivr.harness.media import MediaHost  # noqa: E402
from ivr.harness.persona import persona_from  # noqa: E402
from ivr.harness.sids import CALL, mint  # noqa: E402
from ivr.harness.simulator import Simulator  # noqa: E402
from kit.clock import FrozenClock  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import unit_of_work, units_of_work  # noqa: E402
from storage.models import Call, CallbackTask, Policy  # noqa: E402
from storage.repositories import calls as call_repo  # noqa: E402
from tasks.lifecycle import TaskEvent, apply  # noqa: E402

DATABASE = "huifang_bench_load"
TOKEN = "bench-load-token"
ACCOUNT = "AC" + "1" * 32
PERSONA = {"mode": "dtmf", "answers": {"default": "yes"}}
EXPECTED = "standard"
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_database() -> str:
    server = create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    server.dispose()
    return PG_SERVER + DATABASE


def drop_database() -> None:
    server = create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    server.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(url: str, base: str, workdir: Path, workers: int, threads: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HUIFANG_DATABASE_URL": url, "HUIFANG__TWILIO__AUTH_TOKEN": TOKEN,
            "HUIFANG__TWILIO__ACCOUNT_SID": ACCOUNT, "HUIFANG__IVR__PUBLIC_BASE_URL": base,
            "HUIFANG__WEB__WORKERS": str(workers), "HUIFANG__WEB__THREADS": str(threads),
            "HUIFANG__SPEECH__PROMPT_CACHE_DIR": str(workdir / "prompts"),
            "HUIFANG__RECORDINGS__ROOT": str(workdir / "recordings"),
            "HUIFANG__METRICS__MULTIPROC_DIR": str(workdir / "metrics")}


# -- server CPU -----------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            children[int(fields[1])].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICKS


# -- the harness processes ------------------------------------------------------------------------


class TimedTransport(HttpTransport):
    """HttpTransport that records each request's round trip by route."""

    def __init__(self, *args: Any, times: list[tuple[str, float, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times = times

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        started = time.perf_counter()
        status, body = super().post(url, form)
        elapsed = (time.perf_counter() - started) * 1000
        path = urlsplit(url).path.rsplit("/", 1)[-1]
        route = f"turn_{'keypad' if form.get('Digits') else 'asr' if form.get('RecordingUrl') else 'other'}" \
            if path == "turn" else path
        self.times.append((route, elapsed, status))
        return status, body


def place_like_the_dialer(app: App, services: Any, task_id: int, sid: str, dialer_id: str) -> str:
    """What dialer.loop does for one task: claim (committed), prepare prompts, register the call, PLACED."""
    lease = timedelta(seconds=app.settings.dialer.lease_seconds)
    with unit_of_work(services.sessions) as session:
        task = session.get(CallbackTask, task_id, with_for_update=True)
        assert task is not None
        now = app.clock.now()
        apply(task, TaskEvent.CLAIM, now, claimed_by=dialer_id, lease_until=now + lease)
        session.commit()
    prepare(services.sessions, services.calls, task_id)
    with unit_of_work(services.sessions) as session:
        task = session.get(CallbackTask, task_id, with_for_update=True)
        assert task is not None
        policy = session.get(Policy, task.policy_id)
        assert policy is not None
        now = app.clock.now()
        call = call_repo.create(session, call_sid=sid, task_id=task_id, policy_id=task.policy_id, now=now)
        call.dialled_number = policy.applicant_phone
        apply(task, TaskEvent.PLACED, now, lease_until=now + lease)
        session.commit()
        return str(policy.applicant_phone)


def harness_process(url: str, server: str, base: str, workdir: str, task_ids: list[int],
                    queue: Any, start: Any) -> None:
    settings = load_settings(environ={k: v for k, v in environment(url, base, Path(workdir), 1, 1).items()
                                      if k.startswith("HUIFANG")})
    app = App(settings=settings)
    services = build_services(app, with_asr=False)
    persona = persona_from(PERSONA, "load")
    dialer_id = f"bench-load:{os.getpid()}"
    times: list[tuple[str, float, int]] = []
    errors: list[str] = []
    sids: list[str] = []
    lock = threading.Lock()

    def one_call(task_id: int) -> None:
        sid = mint(CALL)
        try:
            to = place_like_the_dialer(app, services, task_id, sid, dialer_id)
            local: list[tuple[str, float, int]] = []
            transport = TimedTransport(server, TOKEN, base, times=local)
            simulator = Simulator(transport=transport, media=MediaHost(ACCOUNT), oracle=DatabaseOracle(services),
                                  clock=FrozenClock(app.clock.now()), account_sid=ACCOUNT, base_url=base,
                                  fallback_url=f"{base}/twilio/voice/fallback")
            simulator.birthday = lambda t: birthday(services, t)
            log_ = simulator.run(task_id, sid, to, persona)
            with lock:
                times.extend(local)
                sids.append(sid)
                if log_.errors:
                    errors.append(f"{sid}: {log_.errors[0]}")
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            with lock:
                errors.append(f"task {task_id}: {type(exc).__name__}: {exc}"[:300])

    threads = [threading.Thread(target=one_call, args=(task_id,)) for task_id in task_ids]
    start.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put({"times": times, "errors": errors, "sids": sids})


def birthday(services: Any, task_id: int) -> str:
    with services.sessions() as session:
        task = session.get(CallbackTask, task_id)
        policy = session.get(Policy, task.policy_id) if task else None
        return f"{policy.applicant_birth_date:%m%d}" if policy else "0101"


# -- one level ------------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1), "p95": round(pick(0.95), 1),
            "p99": round(pick(0.99), 1), "max": round(ordered[-1], 1)}


def run_level(calls: int, procs: int, tasks: list[int], url: str, server: str, base: str, workdir: Path,
              master: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = context.Event()
    shares = [tasks[i::procs] for i in range(procs)]
    workers = [context.Process(target=harness_process, args=(url, server, base, str(workdir), share, queue, start))
               for share in shares if share]
    for worker in workers:
        worker.start()
    time.sleep(3)  # the harness processes import and connect before the calls start together
    cpu_before, load_before = cpu_seconds(master), os.getloadavg()
    started = time.perf_counter()
    start.set()
    reports = [queue.get(timeout=900) for _ in workers]
    wall = time.perf_counter() - started
    cpu_after, load_after = cpu_seconds(master), os.getloadavg()
    for worker in workers:
        worker.join()
    times: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    sids: list[str] = []
    for report in reports:
        for route, ms, status in report["times"]:
            times[route].append(ms)
            statuses[status] += 1
        errors.extend(report["errors"])
        sids.extend(report["sids"])
    engine = create_engine(url)
    with engine.connect() as connection:
        results = Counter(str(r.value if r is not None else None) for r in connection.scalars(
            select(Call.result_class).where(Call.call_sid.in_(sids))))
    engine.dispose()
    webhooks = sum(len(v) for v in times.values())
    return {
        "concurrent_calls": calls, "harness_processes": len(workers), "wall_s": round(wall, 2),
        "webhooks": webhooks, "webhooks_per_s": round(webhooks / wall, 1),
        "webhook_ms": {route: percentiles(v) for route, v in sorted(times.items())},
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(errors) + sum(v for k, v in statuses.items() if k != 200), "error_samples": errors[:3],
        "calls_completed": sum(results.values()), "results": dict(results),
        "calls_right_result": results.get(EXPECTED, 0),
        "server_cpu_s": round(cpu_after - cpu_before, 2),
        "server_cpu_cores_used": round((cpu_after - cpu_before) / wall, 2),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="10,50,100")
    parser.add_argument("--harness-procs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-load-"))
    url = fresh_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(url, base, workdir, args.workers, args.threads)
    settings = load_settings(environ={k: v for k, v in env.items() if k.startswith("HUIFANG")})
    app = App(settings=settings)
    migrate.upgrade(app.engine)
    csv_path = workdir / "policies.csv"
    write_csv(csv_path, sum(levels) * 3, seed=11, today=app.clock.now().date() - timedelta(days=20))
    PolicyIntake(units_of_work(app.sessions), settings=settings, calendar=app.calendar, clock=app.clock).run(
        open_table(csv_path))
    with app.sessions() as session:
        tasks = list(session.scalars(select(CallbackTask.id).where(CallbackTask.status == "queued")
                                     .order_by(CallbackTask.id)))
    if len(tasks) < sum(levels):
        raise SystemExit(f"only {len(tasks)} queued tasks for {sum(levels)} calls")
    log(f"{len(tasks)} queued tasks; starting huifang serve on {base}")
    server = subprocess.Popen([sys.executable, "-c", "from huifang.cli import main; main()", "serve", "--webhooks-only",
                               "--host", "127.0.0.1", "--port", str(port)],
                              cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=open(workdir / "serve.log", "w"))
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"huifang serve did not start: {(workdir / 'serve.log').read_text()[-2000:]}")
        time.sleep(1)
        out: dict[str, Any] = {
            "server": {"command": "huifang serve --webhooks-only (gunicorn)", "workers": args.workers,
                       "threads": args.threads, "database": "postgresql", "capture": "keypad (no speech model)",
                       "processes": len(process_tree(server.pid))},
            "placement": "harness processes claim+register each call as dialer.loop does (no dialer processes)",
            "cpus": os.cpu_count(), "levels": []}
        offset = 0
        for calls in levels:
            chunk = tasks[offset:offset + calls]
            offset += calls
            log(f"level {calls} ...")
            result = run_level(calls, min(args.harness_procs, calls), chunk, url, base, base, workdir, server.pid)
            log(json.dumps({k: result[k] for k in ("concurrent_calls", "wall_s", "errors", "calls_right_result",
                                                    "server_cpu_cores_used")}))
            out["levels"].append(result)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        app.engine.dispose()
        if not args.keep_db:
            drop_database()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
