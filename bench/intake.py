"""Intake benchmark: import a synthetic policy file into a fresh database, as `huifang import` does.

    .venv/bin/python bench/intake.py [--rows 100000] [--backends sqlite,postgresql] [--profile] [--upload]

`--upload` times the console's path instead (保单导入): the upload stored as the route stores it, an import job
row, and the job run by console.imports.jobs.ImportRunner, writing its progress after every chunk.

Each backend's import runs in a fresh subprocess so ru_maxrss is that import's own peak. A second
subprocess repeats the first import under tracemalloc (which slows Python down, so it is never timed).
Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where this file would shadow the intake package: the
# checkout's root goes first (also when PYTHONPATH names it, as it does for a worktree).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "bench")]

from huifang.app import App  # noqa: E402
from huifang.config import load_settings  # noqa: E402
from huifang.synthetic import write_csv  # noqa: E402
from intake.reader import open_table  # noqa: E402
from intake.service import ImportSummary, PolicyIntake  # noqa: E402
from kit.clock import BUSINESS_TZ, FrozenClock  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import units_of_work  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PG_DATABASE = "huifang_bench"
DEFAULT_TODAY = "2026-11-25"  # a day whose cooling-off periods the bundled holiday calendar covers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_database(backend: str, workdir: Path, label: str, pg_database: str = PG_DATABASE) -> str:
    """An empty database for one run; returns its URL."""
    if backend == "sqlite":
        path = workdir / f"bench-{label}.db"
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if backend == "postgresql":
        server = create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {pg_database}"))
        server.dispose()
        return PG_SERVER + pg_database
    raise SystemExit(f"unknown backend {backend!r} (sqlite, postgresql)")


def make_app(url: str, today: date) -> App:
    settings = load_settings(environ={"HUIFANG_DATABASE_URL": url})
    clock = FrozenClock(datetime(today.year, today.month, today.day, 12, tzinfo=BUSINESS_TZ))
    return App(settings=settings, clock=clock)


def import_once(app: App, csv_path: Path) -> tuple[float, ImportSummary]:
    """Exactly the CLI's import: open the table, run the intake (a transaction per chunk, then the phone rules)."""
    started = time.perf_counter()
    table = open_table(csv_path)
    summary = PolicyIntake(units_of_work(app.sessions), settings=app.settings, calendar=app.calendar, clock=app.clock).run(table)
    return time.perf_counter() - started, summary


def upload_once(app: App, csv_path: Path, workdir: Path) -> tuple[float, ImportSummary]:
    """The console's upload, end to end but for HTTP: store the file (hashing it), record the job, run it."""
    from console.imports import jobs
    from storage.db import unit_of_work

    started = time.perf_counter()
    with csv_path.open("rb") as upload, unit_of_work(app.sessions) as db:
        stored = jobs.store_upload(upload, workdir / "uploads", csv_path.name, app.clock.now())
        job_id = jobs.create_job(db, stored, csv_path.name, "bench", app.clock.now()).id
        db.commit()
    jobs.ImportRunner(app.settings, app.calendar, app.clock, app.sessions).run(job_id)
    seconds = time.perf_counter() - started
    with unit_of_work(app.sessions) as db:
        job = db.get(jobs.ImportJob, job_id)
        assert job is not None
        assert job.status == jobs.DONE, job.error
        summary = ImportSummary(rows=job.summary["rows"], imported=job.summary["imported"],
                                excluded=job.summary["excluded"], tasks_created=job.summary["tasks_created"],
                                held=job.summary["held"], holds_added=job.summary["holds_added"])
    return seconds, summary


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_s() -> float:
    """CPU seconds (user + system, every thread) this process has used: less sensitive to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_s(app: App) -> float | None:
    """CPU seconds of the PostgreSQL backends connected to the bench database now (the pool's connections,
    read from /proc: the server runs on this machine). None on SQLite, or when /proc does not show them."""
    if app.engine.dialect.name != "postgresql":
        return None
    with app.engine.connect() as connection:
        pids = connection.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One backend in this process: migrate, import, (re-import | tracemalloc | profile)."""
    app = make_app(args.url, date.fromisoformat(args.today))
    migrate.upgrade(app.engine)
    out: dict[str, Any] = {"baseline_rss_mb": round(rss_mb(), 1)}
    if args.mode == "upload":
        cpu_before, server_before = cpu_s(), server_cpu_s(app)
        seconds, summary = upload_once(app, args.csv, args.csv.parent)
        cpu, server = cpu_s() - cpu_before, server_cpu_s(app)
        out |= {"upload_s": round(seconds, 2), "peak_rss_mb": round(rss_mb(), 1), "imported": summary.imported,
                "tasks_created": summary.tasks_created, "held": summary.held, "client_cpu_s": round(cpu, 2),
                "server_cpu_s": None if server is None else round(server - (server_before or 0.0), 2)}
    elif args.mode == "memory":
        tracemalloc.start()
        import_once(app, args.csv)
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    elif args.mode == "profile":
        profiler = cProfile.Profile()
        seconds, _summary = profiler.runcall(import_once, app, args.csv)
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        log(stream.getvalue())
        out["import_s_profiled"] = round(seconds, 2)
    else:
        seconds, summary = import_once(app, args.csv)
        out |= {
            "import_s": round(seconds, 2),
            "peak_rss_mb": round(rss_mb(), 1),
            "imported": summary.imported,
            "excluded": summary.excluded,
            "tasks_created": summary.tasks_created,
            "held": summary.held,
            "holds_added": summary.holds_added,
            "rejected": len(summary.rejected),
        }
        seconds, summary = import_once(app, args.csv)
        out |= {
            "reimport_s": round(seconds, 2),
            "reimport_peak_rss_mb": round(rss_mb(), 1),
            "reimport_updated": summary.updated,
            "reimport_unchanged": summary.unchanged,
            "reimport_tasks_created": summary.tasks_created,
        }
    app.close()
    return out


def run_worker(mode: str, url: str, csv_path: Path, today: date) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, "--url", url, "--csv", str(csv_path),
               "--today", today.isoformat()]
    done = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--today", default=DEFAULT_TODAY, help="generation date; the clock is noon Asia/Shanghai")
    parser.add_argument("--english-headers", action="store_true", help="English headers (default: Chinese, BOM)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the first import to stderr")
    parser.add_argument("--upload", action="store_true", help="time the console's upload path (an import job)")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="the PostgreSQL database to drop and make (another name when two benches run at once)")
    parser.add_argument("--worker", choices=("time", "memory", "profile", "upload"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.mode = args.worker
        print(json.dumps(worker(args)))
        return

    today = date.fromisoformat(args.today)
    with tempfile.TemporaryDirectory(prefix="huifang-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "policies.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows, seed=args.seed, today=today, chinese_headers=not args.english_headers)
        generate_s = time.perf_counter() - started
        log(f"generated {args.rows} rows in {generate_s:.1f} s ({csv_path.stat().st_size / 2**20:.1f} MiB)")
        results: list[dict[str, Any]] = []
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if args.profile:
                log(f"{backend}: profiling the first import")
                run_worker("profile", fresh_database(backend, workdir, "profile", args.pg_database), csv_path, today)
                continue
            if args.upload:
                log(f"{backend}: the console's upload (an import job)")
                timed = run_worker("upload", fresh_database(backend, workdir, "upload", args.pg_database), csv_path, today)
                results.append({"backend": backend, "upload_s": timed["upload_s"],
                                "rows_per_s": round(args.rows / timed["upload_s"]),
                                "client_cpu_us_per_row": round(timed["client_cpu_s"] / args.rows * 1e6, 1)} | timed)
                continue
            log(f"{backend}: import and re-import")
            timed = run_worker("time", fresh_database(backend, workdir, "time", args.pg_database), csv_path, today)
            result: dict[str, Any] = {
                "backend": backend,
                "import_s": timed["import_s"],
                "rows_per_s": round(args.rows / timed["import_s"]),
                "reimport_s": timed["reimport_s"],
                "reimport_rows_per_s": round(args.rows / timed["reimport_s"]),
            } | {k: v for k, v in timed.items() if k not in ("import_s", "reimport_s")}
            if not args.no_tracemalloc:
                log(f"{backend}: import under tracemalloc")
                memory = run_worker("memory", fresh_database(backend, workdir, "memory", args.pg_database), csv_path, today)
                result["tracemalloc_peak_mb"] = memory["tracemalloc_peak_mb"]
            results.append(result)
    print(json.dumps({"rows": args.rows, "seed": args.seed, "today": today.isoformat(),
                      "generate_s": round(generate_s, 2), "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
