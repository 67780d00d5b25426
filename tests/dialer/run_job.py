"""One dialer process running a scheduled job, for the multi-process tests:
`python -m tests.dialer.run_job URL NOW JOB [--unguarded]`.

It builds the app as `huifang dialer` does (business clock frozen at NOW), says `ready` on stdout and waits
for a line on stdin, so the test starts every process's run at the same instant; then it runs the job as the
scheduler would (--unguarded: its body alone, without the run-once guard) and prints what the run did as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime

from huifang import dialer_cmd
from huifang.app import App
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, Settings


def main() -> None:
    url, now, job = sys.argv[1], sys.argv[2], sys.argv[3]
    unguarded = sys.argv[4:] == ["--unguarded"]
    app = App(settings=dataclasses.replace(Settings(), database=DatabaseSettings(url=url)),
              clock=FrozenClock(datetime.fromisoformat(now)))
    with app.engine.connect():  # connected and warmed up before the start signal
        pass
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    if unguarded:  # the job's body alone, as if the run-once guard were not there
        result = dialer_cmd.JOBS[job].run(app)
        summary = {"ran": True, "skipped": None, "result": result}
    else:  # what the scheduler of `huifang dialer` runs
        outcome = dialer_cmd.run_job(app, job)
        summary = {"ran": outcome.ran, "skipped": outcome.skipped, "result": outcome.result}
    sys.stdout.write(json.dumps(summary) + "\n")
    app.close()


if __name__ == "__main__":
    main()
