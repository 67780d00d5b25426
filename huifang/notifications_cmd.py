"""`huifang notifications send|list|resend`: the result notifications' sender and its dead letters."""

from __future__ import annotations

import click

from huifang.app import App
from huifang.output import emit_json, emit_table
from notifications import outbox
from notifications.sender import Sender
from recordings.audit import audit


def build_sender(app: App) -> Sender:
    return Sender(app.sessions, app.clock, app.settings.notifications)


def send_job(app: App) -> dict[str, int]:
    """The dialer's `notifications` job: the due events, a bounded number of batches per run."""
    return build_sender(app).send_due(max_batches=50)


@click.group("notifications")
def notifications_group() -> None:
    """Result notifications to the core system (README "Result notifications")."""


@notifications_group.command("send")
@click.option("--once", is_flag=True, help="One batch (notifications.batch_size), then exit.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def send_command(app: App, once: bool, as_json: bool) -> None:
    """POST the due events to notifications.endpoint: until nothing is due, or one batch with --once."""
    sender = build_sender(app)
    if not sender.enabled:
        raise click.ClickException("notifications.endpoint is not set: nothing is sent (events are kept)")
    counts = sender.send_due(max_batches=1 if once else None)
    if as_json:
        emit_json(counts)
    else:
        click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@notifications_group.command("list")
@click.option("--dead", is_flag=True, help="Only the dead letters.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_command(app: App, dead: bool, limit: int, as_json: bool) -> None:
    """Events not delivered yet (pending and dead), or the dead letters alone; newest first."""
    with app.unit_of_work() as session:
        rows = [outbox.as_json(e) for e in session.scalars(outbox.listed(dead_only=dead, limit=limit))]
    if as_json:
        emit_json(rows)
        return
    emit_table(["event_id", "type", "policy_no", "status", "attempts", "last_error"],
               [(r["event_id"], r["type"], r["policy_no"], r["status"], r["attempts"], r["last_error"] or "")
                for r in rows])


@notifications_group.command("resend")
@click.argument("event_id", required=False)
@click.option("--all-dead", is_flag=True, help="Every dead letter.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def resend_command(app: App, event_id: str | None, all_dead: bool, as_json: bool) -> None:
    """Send a dead (or delivered) event again, tried anew for max_age_hours; audited."""
    if (event_id is None) == (not all_dead):
        raise click.UsageError("name one EVENT_ID, or --all-dead")
    now = app.clock.now()
    with app.unit_of_work() as session:
        try:
            ids = outbox.resend(session, now=now, event_id=event_id, all_dead=all_dead)
        except outbox.NotResendable as exc:
            raise click.ClickException(str(exc)) from None
        for resent in ids:
            audit(session, actor=app.actor, action="notify_resend", target=resent, now=now)
        session.commit()
    if as_json:
        emit_json({"resent": ids})
    else:
        click.echo(f"{len(ids)} event(s) will be sent again")
