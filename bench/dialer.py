"""Dialer benchmark: claims + placements per second with several processes on PostgreSQL against Twilio's
REST API mocked in-process with `responses` (CPS unlimited), and the account-wide CPS achieved when limited (every
process together: the pacing is shared through the database).

    .venv/bin/python bench/dialer.py [--tasks 4000] [--processes 4] [--cps 1,5,10] [--cps-calls 30]

Prints JSON on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import responses  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.intake import fresh_database  # noqa: E402
from dialer.loop import Dialer  # noqa: E402
from dialer.telephony import TwilioProvider  # noqa: E402
from huifang.synthetic import write_csv  # noqa: E402
from intake.reader import open_table  # noqa: E402
from intake.service import PolicyIntake  # noqa: E402
from kit.calendar import BusinessCalendar  # noqa: E402
from kit.clock import BUSINESS_TZ, FrozenClock  # noqa: E402
from kit.settings import DialerSettings, Settings  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine, make_session_factory, units_of_work  # noqa: E402

ACCOUNT = "AC" + "d" * 32
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def worker(url: str, name: str, cps: float) -> None:
    """One dialer process: drains the due tasks; prints its placements' wall-clock span."""
    settings = dataclasses.replace(
        Settings(), dialer=DialerSettings(batch_size=4 if cps else 50,  # paced: small claims, the work shared
                                          max_concurrent_calls=10_000_000, calls_per_second=cps))
    count = iter(range(1, 10_000_000))
    stamps: list[float] = []

    def created(_request: Any) -> tuple[int, dict[str, str], str]:
        stamps.append(time.time())
        return 201, {}, json.dumps({"sid": f"CA{name}{next(count):028d}", "account_sid": ACCOUNT, "status": "queued"})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as twilio:
        twilio.add_callback(responses.POST, f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
                            callback=created)
        dialer = Dialer(settings=settings, clock=FrozenClock(NOW), calendar=BusinessCalendar(),
                        sessions=make_session_factory(make_engine(url)), provider=TwilioProvider(ACCOUNT, "t"),
                        dialer_id=name)
        result = dialer.drain()
    print(json.dumps({"placed": result.placed, "first": min(stamps, default=0), "last": max(stamps, default=0),
                      "stamps": stamps if cps else []}))


def seed(url: str, tasks: int, workdir: Path) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    path = workdir / "policies.csv"
    write_csv(path, int(tasks * 1.4), seed=11, today=date(2026, 11, 25))
    sessions = make_session_factory(engine)
    PolicyIntake(units_of_work(sessions), settings=Settings(), calendar=BusinessCalendar(),
                 clock=FrozenClock(NOW)).run(open_table(path))
    with sessions() as session, session.begin():
        session.execute(text(
            "UPDATE callback_tasks SET status = 'completed' WHERE status = 'queued' AND id NOT IN ("
            "SELECT id FROM callback_tasks WHERE status = 'queued' AND opens_on <= '2026-11-25' ORDER BY id "
            f"LIMIT {tasks})"))
        due = session.execute(text("SELECT count(*) FROM callback_tasks WHERE status = 'queued' "
                                   "AND opens_on <= '2026-11-25'")).scalar_one()
    engine.dispose()
    log(f"{due} due tasks")


def run(url: str, processes: int, cps: float) -> list[dict[str, Any]]:
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, f"w{i}", str(cps)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT) for i in range(processes)]
    return [json.loads(p.communicate()[0]) for p in procs]


def _most_in_a_second(stamps: list[float]) -> int:
    """The most requests Twilio got inside any half-open second [t, t + 1)."""
    most, first = 0, 0
    for last, at in enumerate(stamps):
        while at - stamps[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--cps", default="1,5,10")
    parser.add_argument("--cps-calls", type=int, default=30)
    parser.add_argument("--worker", nargs=3, metavar=("URL", "NAME", "CPS"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], float(args.worker[2]))
        return
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-dialer-"))
    out: dict[str, Any] = {"tasks": args.tasks, "processes": args.processes}
    url = fresh_database("postgresql", workdir, "dialer")
    seed(url, args.tasks, workdir)
    results = run(url, args.processes, 0)
    placed = sum(r["placed"] for r in results)
    span = max(r["last"] for r in results) - min(r["first"] for r in results if r["placed"])
    out["unlimited"] = {"placed": placed, "span_s": round(span, 2), "claims_per_s": round(placed / span, 1),
                        "per_process": [r["placed"] for r in results]}
    log(f"unlimited: {out['unlimited']}")
    out["cps"] = []
    for cps in (float(c) for c in args.cps.split(",")):
        url = fresh_database("postgresql", workdir, "dialer")
        seed(url, args.cps_calls, workdir)
        together = run(url, args.processes, cps)  # the account's CPS is shared by every dialer process
        stamps = sorted(s for r in together for s in r["stamps"])[1:]  # the first request pays the client start-up
        achieved = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        out["cps"].append({"configured": cps, "processes": args.processes, "placed": len(stamps),
                           "achieved": round(achieved, 3), "error_pct": round((achieved - cps) / cps * 100, 2),
                           "most_in_a_second": _most_in_a_second(stamps),
                           "min_gap_s": round(min(gaps), 4), "max_gap_s": round(max(gaps), 4)})
        log(f"cps {cps}: {out['cps'][-1]}")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
