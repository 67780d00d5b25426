"""`huifang recordings …` and `huifang audit list`: compliance access to call recordings, every access audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from flows.vocab import ResultClass
from huifang.app import App
from huifang.output import emit_json, emit_table
from recordings import bundle, compliance
from recordings.audit import TrailFilter
from recordings.downloader import Downloader
from recordings.media import MediaClient
from recordings.store import FileStore


def _store(app: App) -> FileStore:
    return FileStore(Path(app.settings.recordings.root))


def build_downloader(app: App) -> Downloader:
    """Recording downloads for the retry job: claimed, downloaded with no transaction open, finished."""
    settings = app.settings
    return Downloader(sessions=app.sessions, media=MediaClient.from_settings(settings.twilio, settings.recordings),
                      files=_store(app), clock=app.clock, settings=settings.recordings)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{option} {text!r}: expected YYYY-MM-DD") from None


@click.group("recordings")
def recordings_group() -> None:
    """Call recordings: storage retries, compliance retrieval, integrity, retention."""


@recordings_group.command("fetch")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_fetch(app: App, as_json: bool) -> None:
    """Download and store the pending recordings whose next try is due (also run by the dialer).

    Each is claimed first (a lease), so it may run beside the dialer's retry job and on other hosts."""
    counts = build_downloader(app).fetch_due()
    if as_json:
        emit_json(counts)
    else:
        click.echo(f"stored {counts['stored']}, still pending {counts['pending']}")


@recordings_group.command("find")
@click.option("--policy", "policy_no", default=None)
@click.option("--phone", default=None, help="The applicant's phone (any format).")
@click.option("--since", default=None, help="YYYY-MM-DD (call date, business time)")
@click.option("--until", default=None, help="YYYY-MM-DD, inclusive")
@click.option("--branch", "branch_code", default=None)
@click.option("--result", "result_class", type=click.Choice([r.value for r in ResultClass]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_find(app: App, policy_no: str | None, phone: str | None, since: str | None, until: str | None,
                    branch_code: str | None, result_class: str | None, as_json: bool) -> None:
    """Recordings matching the filters (the search is audited)."""
    filters = compliance.Filters(policy_no, phone, _day(since, "--since"), _day(until, "--until"), branch_code,
                                 ResultClass(result_class) if result_class else None)
    with app.unit_of_work() as session:
        found = compliance.find(session, filters, actor=app.actor, now=app.clock.now())
        session.commit()  # the audit line
    if as_json:
        emit_json(found)
        return
    emit_table(["recording_sid", "policy_no", "started_at", "duration_s", "status", "retain_until"],
               [(f["recording_sid"], f["policy_no"], f["started_at"], f["duration_s"], f["status"], f["retain_until"])
                for f in found])


@recordings_group.command("export")
@click.option("--policy", "policy_no", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reason", required=True, help="Why (a complaint, an inspection …): written to the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_export(app: App, policy_no: str, out: Path, reason: str, as_json: bool) -> None:
    """A compliance bundle: audio, transcripts, policy and call metadata, a SHA-256 manifest."""
    with app.unit_of_work() as session:
        try:
            result = compliance.export(session, _store(app), policy_no, out, actor=app.actor, reason=reason,
                                       now=app.clock.now())
        except compliance.ComplianceError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if as_json:
        emit_json(result)
    else:
        click.echo(f"{result['out']}: {result['files']} files, sha256 {result['sha256']}")


@recordings_group.command("verify-bundle")
@click.argument("bundle_path", metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def recordings_verify_bundle(bundle_path: Path, as_json: bool) -> None:
    """Re-hash every file of an export bundle against its manifest; exit 1 naming each file missing, extra
    or altered (reads only the file: no database, nothing audited)."""
    try:
        check = bundle.verify(bundle_path)
    except bundle.BundleError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(check.to_json())
    elif check.ok:
        click.echo(f"{bundle_path}: ok, {check.files} files match the manifest")
    else:
        for kind, names in (("missing", check.missing), ("extra", check.extra), ("altered", check.altered)):
            for name in names:
                click.echo(f"{kind}: {name}")
        click.echo(f"{bundle_path}: does NOT match its manifest", err=True)
    if not check.ok:
        raise SystemExit(1)


@recordings_group.command("play")
@click.argument("recording_sid")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reason", required=True)
@click.pass_obj
def recordings_play(app: App, recording_sid: str, out: Path, reason: str) -> None:
    """Copy one recording out to listen to it (audited)."""
    with app.unit_of_work() as session:
        try:
            compliance.playback(session, _store(app), recording_sid, out, actor=app.actor, reason=reason,
                                now=app.clock.now())
        except compliance.ComplianceError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(str(out))


@recordings_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_verify(app: App, as_json: bool) -> None:
    """Re-hash every stored recording; exit 1 when any is missing or altered."""
    with app.unit_of_work() as session:
        result = compliance.verify(session, _store(app), actor=app.actor, now=app.clock.now())
        session.commit()
    if as_json:
        emit_json(result)
    else:
        click.echo(f"checked {result['checked']}, missing {len(result['missing'])}, altered {len(result['altered'])}")
    if result["missing"] or result["altered"]:
        raise SystemExit(1)


@recordings_group.command("purge")
@click.option("--recording", "recording_sid", default=None, help="Only this one (refused, with the reason, if kept).")
@click.option("--reason", default="retention period over", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_purge(app: App, recording_sid: str | None, reason: str, as_json: bool) -> None:
    """Delete recordings past their retention date (each deletion audited); nothing earlier."""
    with app.unit_of_work() as session:
        try:
            result = compliance.purge(session, _store(app), actor=app.actor, now=app.clock.now(), reason=reason,
                                      recording_sid=recording_sid)
        except compliance.ComplianceError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if as_json:
        emit_json(result)
    else:
        click.echo(f"purged {len(result['purged'])} of {result['checked']} stored recordings")


@click.group("audit")
def audit_group() -> None:
    """The access audit trail (append-only)."""


@audit_group.command("list")
@click.option("--limit", default=200, show_default=True)
@click.option("--user", default=None, help="Only this user's lines.")
@click.option("--action", default=None, help="Only this action (find, export, playback, purge, dispute …).")
@click.option("--target", default=None, help="Only lines whose target or detail contains this (a policy number …).")
@click.option("--since", default=None, help="YYYY-MM-DD (business day)")
@click.option("--until", default=None, help="YYYY-MM-DD, inclusive")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def audit_list(app: App, limit: int, user: str | None, action: str | None, target: str | None, since: str | None,
               until: str | None, as_json: bool) -> None:
    """Who accessed recordings, when, what and why, newest first; `detail` names what it touched (an export's
    bundle and its SHA-256)."""
    filters = TrailFilter(user, action, target, _day(since, "--since"), _day(until, "--until"))
    with app.unit_of_work() as session:
        rows = compliance.audit_log(session, app.actor, limit, filters)
    if as_json:
        emit_json(rows)
        return
    emit_table(["at", "operator", "action", "target", "reason", "detail"],
               [(r["at"], r["operator"], r["action"], r["target"], r["reason"], r["detail"]) for r in rows])
