"""`huifang dialer`: the APScheduler loop that places calls, and the jobs every dialer schedules but only one
runs per interval (recording retries, the SLA sweep, the e-callback's links and SMS, the monthly quality
sample, the drop folder's imports when `[drop] dir` is set, result notifications, the daily retention of the
outbox and of the API's kept answers: storage.jobs.run_once). Its subcommands pause, resume and report on
calling (huifang.dialer_controls_cmd)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

import click

from calls.service import prepare
from dialer.loop import Dialer, TickResult
from dialer.telephony import TelephonyProvider, TwilioProvider
from huifang.app import App
from huifang.dialer_controls_cmd import pause_command, resume_command, status_command
from huifang.output import emit_json
from huifang.recordings_cmd import build_downloader
from storage.db import make_session_factory
from storage.jobs import JobOutcome, run_once

log = logging.getLogger(__name__)


def build_dialer(app: App, provider: TelephonyProvider | None = None) -> Dialer:
    from huifang.web import build_services

    settings = app.settings
    services = build_services(app, with_asr=False)

    def prepare_prompts(task_id: int) -> int:
        return prepare(services.sessions, services.calls, task_id)

    return Dialer(
        settings=settings, clock=app.clock, calendar=app.calendar, sessions=make_session_factory(app.engine),
        provider=provider or TwilioProvider(settings.twilio.account_sid, settings.twilio.auth_token,
                                            api_base_url=settings.twilio.api_base_url),
        dialer_id=f"{socket.gethostname()}:{os.getpid()}", prepare=prepare_prompts,
    )


def _summary(result: TickResult) -> dict[str, object]:
    data = asdict(result)
    data["backoff_until"] = result.backoff_until.isoformat() if result.backoff_until else None
    return data


def fetch_recordings(app: App) -> None:
    """The retry job: each due recording claimed, downloaded with no transaction open, then finished."""
    counts = build_downloader(app).fetch_due()
    if any(counts.values()):
        log.info("recordings: %s", counts)


def sweep_cases(app: App) -> dict[str, int]:
    from cases.service import sweep

    with app.unit_of_work() as session:
        changed = sweep(session, now=app.clock.now(), settings=app.settings.cases)
        session.commit()
    if any(changed.values()):
        log.info("SLA sweep: %s", changed)
    return changed


def ecallback_tick(app: App) -> dict[str, object]:
    from huifang.ecallback_cmd import run_tick

    return run_tick(app)


def send_notifications(app: App) -> object:
    from huifang.notifications_cmd import send_job

    return send_job(app)


def qa_sample(app: App) -> object:
    from huifang.qa_cmd import sample_job

    return sample_job(app)


def prune(app: App) -> object:
    from huifang.notifications_cmd import prune_job

    return prune_job(app)


def drop(app: App) -> object:
    from huifang.watch_cmd import drop_job

    return drop_job(app)


def _always(app: App) -> bool:
    return True


@dataclass(frozen=True)
class Job:
    """A job every dialer schedules and one runs per interval (at most once per MIN_GAP × every, whichever
    dialer's schedule comes first; the processes' schedules are not in step)."""

    name: str
    every: Callable[[App], timedelta]
    run: Callable[[App], object]
    enabled: Callable[[App], bool] = _always  # scheduled only when this says so (the drop job: [drop] dir set)
    # a job that runs less often than it is scheduled (retention: looked at hourly, run daily, so a dialer that is
    # restarted more often than daily still runs it); None: once per `every`
    once_per: Callable[[App], timedelta] | None = None

    def min_gap(self, app: App) -> timedelta:
        return (self.once_per or self.every)(app) * MIN_GAP


MIN_GAP = 0.8  # of the interval: a little less than a whole one, so a run a little early is not skipped
JOBS = {job.name: job for job in (
    Job("recordings", lambda app: timedelta(minutes=app.settings.recordings.retry_after_minutes), fetch_recordings),
    Job("sla_sweep", lambda app: timedelta(minutes=5), sweep_cases),
    Job("ecallback", lambda app: timedelta(seconds=app.settings.dialer.tick_seconds), ecallback_tick),
    Job("qa_sample", lambda app: timedelta(hours=1), qa_sample),
    Job("drop", lambda app: timedelta(seconds=app.settings.drop.interval_seconds), drop,
        enabled=lambda app: bool(app.settings.drop.dir)),
    Job("notifications", lambda app: timedelta(seconds=app.settings.dialer.tick_seconds), send_notifications),
    Job("prune", lambda app: timedelta(hours=1), prune, once_per=lambda app: timedelta(days=1)),
)}


def run_job(app: App, name: str) -> JobOutcome[object]:
    """Run a scheduled job unless another dialer is running it or ran it this interval (PostgreSQL: advisory
    lock `job:<name>` and the job's row in job_runs; SQLite runs one dialer)."""
    job = JOBS[name]
    return run_once(app.engine, name, lambda: job.run(app), min_gap=job.min_gap(app))


@click.group("dialer", invoke_without_command=True)
@click.option("--once", is_flag=True, help="One tick, then exit (for cron or a check).")
@click.option("--drain", is_flag=True, help="Tick until nothing is due, then exit.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dialer_command(ctx: click.Context, once: bool, drain: bool, as_json: bool) -> None:
    """Place the calls that are due, inside calling hours, paced; runs until stopped unless --once/--drain.
    `huifang dialer pause|resume|status` controls calling and shows the dialers."""
    if ctx.invoked_subcommand is not None:
        if once or drain or as_json:
            raise click.UsageError(f"--once, --drain and --json go with `huifang dialer` alone (for "
                                   f"`{ctx.invoked_subcommand}`, put --json after it)")
        return
    app: App = ctx.obj
    try:
        dialer = build_dialer(app)
    except ValueError as exc:
        raise click.ClickException(f"cannot start the dialer: {exc}") from None
    if once or drain:
        result = dialer.drain() if drain else dialer.tick()
        if as_json:
            emit_json(_summary(result))
        else:
            click.echo(", ".join(f"{k} {v}" for k, v in _summary(result).items() if v))
        return
    from apscheduler.schedulers.blocking import BlockingScheduler

    from huifang.serving.dialer_metrics import metered, start_metrics_server
    from huifang.serving.logs import configure

    configure(app.settings.web.log_format)  # masked like the web app's, text or JSON
    try:
        start_metrics_server(app)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot start the dialer's metrics: {exc}") from None
    scheduler = BlockingScheduler(timezone="Asia/Shanghai")
    d = app.settings.dialer
    dialer.ticks_every_s = d.tick_seconds  # its heartbeat: stale after stale_after_ticks of these
    scheduler.add_job(metered(dialer.tick), "interval", seconds=d.tick_seconds, max_instances=1, coalesce=True, id="tick")
    for job in (j for j in JOBS.values() if j.enabled(app)):
        scheduler.add_job(run_job, "interval", args=[app, job.name], seconds=job.every(app).total_seconds(),
                          max_instances=1, coalesce=True, id=job.name)
    click.echo(f"huifang: dialer {dialer.dialer_id} ticking every {d.tick_seconds} s", err=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


for _command in (pause_command, resume_command, status_command):
    dialer_command.add_command(_command)
