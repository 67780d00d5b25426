"""Simulation benchmark: simulated calls per second (text mode, SQLite) and `huifang demo` wall time.

    .venv/bin/python bench/campaign.py [--policies 300] [--days 15]

Runs `huifang demo` in this process (fresh SQLite under a temporary directory, timed-silence prompts) and
reports its wall time, the calls it simulated and the webhooks per second they took. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from huifang.cli import cli  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=300)
    parser.add_argument("--days", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-campaign-")) / "demo"
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["demo", "--policies", str(args.policies), "--days", str(args.days),
                                      "--dir", str(workdir), "--json"])
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(result.stderr or result.output)
    summary = json.loads(result.stdout)
    import sqlite3

    with sqlite3.connect(workdir / "huifang.db") as db:
        events = db.execute("SELECT count(*) FROM call_events").fetchone()[0]
        answered = db.execute("SELECT count(*) FROM calls WHERE flow_id IS NOT NULL").fetchone()[0]
    print(json.dumps({
        "policies": args.policies, "days": args.days, "demo_wall_s": round(wall, 1),
        "calls": summary["calls"], "answered_calls": answered, "call_events": events,
        "calls_per_s": round(summary["calls"] / wall, 1),
        "results": summary["results"], "cases": summary["cases"],
    }, indent=2))


if __name__ == "__main__":
    main()
