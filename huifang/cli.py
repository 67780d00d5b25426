"""The `huifang` command line. Each command parses, calls services, commits once, and prints (`import`
commits a large file in chunks: intake.service)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from huifang.apikeys_cmd import apikeys_group
from huifang.app import App, build_app
from huifang.cases_cmd import cases_group
from huifang.channel_cmd import channel_command
from huifang.config import ConfigError
from huifang.demo_cmd import demo_command
from huifang.dialer_cmd import dialer_command
from huifang.ecallback_cmd import ecallback_group, sms_group
from huifang.flows_cmd import flows_group
from huifang.import_progress import import_progress
from huifang.letters_cmd import letters_group
from huifang.notifications_cmd import notifications_group
from huifang.output import emit_json, emit_table
from huifang.qa_cmd import qa_group
from huifang.recordings_cmd import audit_group, recordings_group
from huifang.report_cmd import report_group
from huifang.simulate_cmd import simulate_group
from huifang.speech_cmd import prompts_group, speech_group
from huifang.users_cmd import users_group
from huifang.watch_cmd import watch_command
from intake.reader import IntakeFileError, open_table
from intake.service import ImportInterrupted, PolicyIntake
from kit.calendar import UnknownCalendarYear
from kit.clock import Clock, FrozenClock, isoformat_local
from kit.vocab import TaskStatus
from storage import migrate
from storage.db import units_of_work
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo
from tasks.views import PolicyNotFound, policy_view, task_list

F = TypeVar("F", bound=Callable[..., Any])
NOW_ENV = "HUIFANG_NOW"  # freeze the clock (ISO 8601 with offset): demos, simulations, tests


class UserError(click.ClickException):
    """A one-line message on stderr and exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"huifang: {self.format_message()}", err=True)


def _clock_from_env() -> Clock | None:
    raw = os.environ.get(NOW_ENV)
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise UserError(f"{NOW_ENV}={raw!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise UserError(f"{NOW_ENV}={raw!r} needs a UTC offset, e.g. 2026-11-25T10:00:00+08:00")
    return FrozenClock(at)


def handled(func: F) -> F:
    """Turn expected failures into one line on stderr, never a traceback (every command gets this from the
    root group, `Handled`; a function called outside click can use it directly)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, IntakeFileError, UnknownCalendarYear) as exc:
            raise UserError(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            raise UserError(_database_message(exc)) from None

    return wrapper  # type: ignore[return-value]


class Handled(click.Group):
    """The root group: whatever command runs under it, a bad config, a bad file or a database without the
    schema (or out of reach) is one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        return handled(super().invoke)(ctx)


def _database_message(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return "the database has no huifang schema yet: run `huifang db upgrade`"
    return f"database error: {text}"


@click.group(cls=Handled, epilog="Reference: docs/cli.md (every command, its options, --json output and exit codes).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML config file (default ./config.toml, else built-in defaults).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """huifang (回访): new-business policy callbacks."""
    try:
        app = build_app(config_path, clock=_clock_from_env())
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
@handled
def db_upgrade(app: App) -> None:
    """Create or migrate the schema of the configured database."""
    migrate.upgrade(app.engine)
    click.echo(f"database at {app.engine.url.render_as_string(hide_password=True)} is up to date")


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handled
def import_(app: App, file: Path, as_json: bool) -> None:
    """Import a policy file (CSV or XLSX; docs/policy-file.md). Commits every 2,000 rows: after an interruption,
    import the same file again to finish. Exit status 0 when the import ran to its end, rejected rows or not
    (they are in the summary: `rejected_rows`); 1 when the file cannot be read, the import stopped, or every row
    was rejected. A progress bar on stderr when it is a terminal."""
    table = open_table(file)
    try:
        with import_progress(file) as (after_chunk, before_phone_rules):
            summary = PolicyIntake(units_of_work(app.sessions), settings=app.settings, calendar=app.calendar,
                                   clock=app.clock, after_chunk=after_chunk,
                                   before_phone_rules=before_phone_rules).run(table)
    except ImportInterrupted as exc:
        raise UserError(str(exc)) from None
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(
            f"{summary.rows} rows: {summary.imported} new, {summary.updated} updated, {summary.unchanged} unchanged, "
            f"{summary.rejected_rows} rejected ({len(summary.rejected)} errors); {summary.excluded} need no "
            f"callback; {summary.tasks_created} tasks created, {summary.held} held"
        )
        if summary.ignored_columns:
            click.echo(f"ignored columns: {', '.join(summary.ignored_columns)}")
        if summary.rejected:
            emit_table(["row", "column", "error"], [(e.row, e.column, e.error) for e in summary.rejected])
    if summary.rows and summary.rejected_rows == summary.rows:
        raise UserError(f"{file}: every row was rejected ({summary.rows}); nothing is imported")


@cli.group()
def policies() -> None:
    """Policies and their callback state."""


@policies.command("show")
@click.argument("policy_no")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handled
def policies_show(app: App, policy_no: str, as_json: bool) -> None:
    """One policy and its callback state."""
    with app.unit_of_work() as session:
        try:
            view = policy_view(session, app.actor, policy_no, app.clock.now()).to_json()
        except PolicyNotFound as exc:
            raise UserError(str(exc)) from None
    if as_json:
        emit_json(view)
        return
    task = view["task"]
    lines = [
        ("policy_no", view["policy_no"]),
        ("callback_required", view["callback_required"]),
        ("exclusion_reason", view["exclusion_reason"]),
        ("cooling_off_end", view["cooling_off_end"]),
        ("dual_recorded", view["dual_recorded"]),
    ]
    if task:
        lines += [(f"task.{k}", ", ".join(v) if isinstance(v, list) else v) for k, v in task.items()]
    else:
        lines.append(("task", "none (no logged receipt yet, or no callback needed)"))
    emit_table(["field", "value"], lines)
    if view["cases"]:
        click.echo()
        emit_table(["case", "type", "reason", "status", "sla", "due_at", "detail"],
                   [(c["id"], c["type"], c["reason"], c["status"], c["sla_status"], c["due_at"], c["detail"])
                    for c in view["cases"]])


@policies.command("dispute")
@click.argument("policy_no")
@click.option("--start", "start_text", required=True, help="YYYY-MM-DD: the complaint or lawsuit began")
@click.option("--end", "end_text", default=None, help="YYYY-MM-DD: it ended (leave out while it is open)")
@click.option("--reason", required=True)
@click.pass_obj
@handled
def policies_dispute(app: App, policy_no: str, start_text: str, end_text: str | None, reason: str) -> None:
    """Record a complaint or lawsuit: the policy's recordings are kept 2 years past its end (open: kept)."""
    from datetime import date

    from recordings.compliance import ComplianceError, set_dispute

    try:
        start = date.fromisoformat(start_text)
        end = date.fromisoformat(end_text) if end_text else None
    except ValueError:
        raise UserError("--start/--end: expected YYYY-MM-DD") from None
    with app.unit_of_work() as session:
        policy = policy_repo.by_number(session, policy_no, actor=app.actor)
        if policy is None:
            raise UserError(f"no policy {policy_no}")
        try:
            changed = set_dispute(session, policy, start, end, actor=app.actor, reason=reason,
                                  now=app.clock.now(), settings=app.settings.recordings)
        except ComplianceError as exc:
            raise UserError(str(exc)) from None
        session.commit()
    click.echo(f"{policy_no}: dispute {start} – {end or 'open'}; retention updated on {changed} recordings")


@cli.group()
def tasks() -> None:
    """Callback tasks."""


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]), default=None)
@click.option("--branch", "branch_code", default=None, help="Branch code (机构代码).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handled
def tasks_list(app: App, status: str | None, branch_code: str | None, as_json: bool) -> None:
    """Callback tasks by deadline."""
    with app.unit_of_work() as session:
        view = [line.to_json() for line in task_list(session, app.actor, app.clock.now(),
                                                     status=TaskStatus(status) if status else None,
                                                     branch_code=branch_code)]
    if as_json:
        emit_json(view)
        return
    emit_table(
        ["policy_no", "status", "holds", "opens_on", "deadline", "variant", "attempts", "late"],
        [(t["policy_no"], t["status"], ",".join(t["hold_reasons"]), t["opens_on"], t["deadline"],
          t["questionnaire_variant"], t["attempts"], "yes" if t["late"] else "") for t in view],
    )
    click.echo(f"{len(view)} tasks")


@tasks.command("appoint")
@click.argument("policy_no")
@click.option("--at", "at_text", required=True, help="ISO 8601 with offset, e.g. 2026-11-26T08:30:00+08:00.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handled
def tasks_appoint(app: App, policy_no: str, at_text: str, as_json: bool) -> None:
    """Book the time the customer asked to be called back at."""
    from dialer.appointments import AppointmentRefused, book
    from dialer.hours import CallingRules

    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise UserError(f"--at {at_text!r} is not an ISO 8601 time") from None
    with app.unit_of_work() as session:
        policy = policy_repo.by_number(session, policy_no, actor=app.actor)
        task = task_repo.for_policy(session, policy.id) if policy else None
        if task is None:
            raise UserError(f"no callback task for policy {policy_no}")
        try:
            book(task, at, now=app.clock.now(), rules=CallingRules.from_settings(app.settings.dialer, app.calendar))
        except AppointmentRefused as exc:
            raise UserError(f"--at: {exc}") from None
        session.commit()
        view = {"policy_no": policy_no, "appointment_at": isoformat_local(at)}
    if as_json:
        emit_json(view)
    else:
        click.echo(f"{policy_no}: call at {view['appointment_at']}")


@cli.command("serve")
@click.option("--host", default=None, help="Listen on this address (default: web.bind, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Listen on this port (default: web.bind, 8080).")
@click.option("--dev", is_flag=True, help="Werkzeug's development server instead of gunicorn (local work).")
@click.option("--insecure", is_flag=True,
              help="Allow twilio.validate_signatures = false, on a loopback address only.")
@click.option("--webhooks-only", is_flag=True, help="Serve Twilio's webhooks without the console (no secret key).")
@click.pass_obj
@handled
def serve(app: App, host: str | None, port: int | None, dev: bool, insecure: bool, webhooks_only: bool) -> None:
    """Run the web app (Twilio webhooks, prompt audio, agent pages, the console, /healthz, /readyz, /metrics)
    on gunicorn with the [web] settings; SIGTERM lets in-flight requests finish. The console's secret key
    comes from HUIFANG_SECRET_KEY or HUIFANG_SECRET_KEY_FILE, the metrics token from HUIFANG_METRICS_TOKEN or
    HUIFANG_METRICS_TOKEN_FILE."""
    from huifang.serving.command import ServeOptions, ServeRefused
    from huifang.serving.command import serve as run_server

    try:
        run_server(app, ServeOptions(host=host, port=port, dev=dev, insecure=insecure, webhooks_only=webhooks_only))
    except ServeRefused as exc:
        raise UserError(str(exc)) from None


tasks.add_command(channel_command)
cli.add_command(cases_group)
cli.add_command(demo_command)
cli.add_command(dialer_command)
cli.add_command(flows_group)
cli.add_command(letters_group)
cli.add_command(qa_group)
cli.add_command(recordings_group)
cli.add_command(audit_group)
cli.add_command(report_group)
cli.add_command(simulate_group)
cli.add_command(speech_group)
cli.add_command(prompts_group)
cli.add_command(users_group)
cli.add_command(ecallback_group)
cli.add_command(sms_group)
cli.add_command(notifications_group)
cli.add_command(apikeys_group)
cli.add_command(watch_command)


def main() -> None:
    try:
        cli(prog_name="huifang")
    except Exception as exc:  # a bug: still one line, with the way to see more
        if os.environ.get("HUIFANG_DEBUG"):
            raise
        click.echo(f"huifang: internal error: {type(exc).__name__}: {exc} (set HUIFANG_DEBUG=1 for the traceback)",
                   err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
