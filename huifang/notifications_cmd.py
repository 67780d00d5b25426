"""`huifang notifications send|list|resend|prune`: the result notifications' sender, its dead letters, and the
retention of the outbox and of the API's kept Idempotency-Key answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from api.policies import expired_answers, kept_since, prune_answers
from huifang.app import App
from huifang.output import emit_json, emit_table
from integration import retention
from kit.actor import SYSTEM, Actor
from kit.clock import isoformat_local
from notifications import outbox
from notifications.sender import Sender
from recordings.audit import audit

log = logging.getLogger(__name__)


def build_sender(app: App) -> Sender:
    return Sender(app.sessions, app.clock, app.settings.notifications)


def send_job(app: App) -> dict[str, int]:
    """The dialer's `notifications` job: the due events, a bounded number of batches per run."""
    return build_sender(app).send_due(max_batches=50)


def prune(app: App, actor: Actor, *, dry_run: bool = False) -> dict[str, Any]:
    """Retention: outbox events past notifications.keep_days that no one needs (integration.retention) and the
    API's answers past api.idempotency_keep_hours, each table in batches of notifications.prune_batch_size, each
    batch its own transaction. Counts what was deleted (dry run: what would be), and the old events kept."""
    n, keep_hours = app.settings.notifications, app.settings.api.idempotency_keep_hours
    now, on, size = app.clock.now(), bool(n.endpoint), n.prune_batch_size
    events = answers = 0
    if not dry_run:
        events = _in_batches(app, size, lambda session: retention.prune_batch(
            session, now=now, keep_days=n.keep_days, notifications_on=on, limit=size))
        answers = _in_batches(app, size, lambda session: prune_answers(
            session, now=now, keep_hours=keep_hours, limit=size))
    with app.unit_of_work() as session:
        left = retention.counts(session, now=now, keep_days=n.keep_days, notifications_on=on)
        if dry_run:
            events, answers = left["deletable"], expired_answers(session, now=now, keep_hours=keep_hours)
        elif events or answers:
            audit(session, actor=actor, action="retention_prune", target="integration_events, api_idempotency",
                  now=now, detail=f"events={events} answers={answers}")
            session.commit()
    return {"dry_run": dry_run, "events_deleted": events, "events_kept_dead": left["kept_dead"],
            "events_kept_undelivered": left["kept_undelivered"], "answers_deleted": answers,
            "events_before": isoformat_local(retention.cutoff(now, n.keep_days)),
            "answers_before": isoformat_local(kept_since(now, keep_hours))}


def _in_batches(app: App, size: int, batch: Callable[[Session], int]) -> int:
    """`batch` in one short transaction after another until one deletes fewer than `size` rows."""
    total = 0
    while True:
        with app.unit_of_work() as session:
            done = batch(session)
            session.commit()
        total += done
        if done < size:
            return total


def prune_job(app: App) -> dict[str, Any]:
    """The dialer's daily `prune` job: retention as the system."""
    counts = prune(app, SYSTEM)
    if counts["events_deleted"] or counts["answers_deleted"]:
        log.info("retention: %s", counts)
    return counts


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


@notifications_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def prune_command(app: App, dry_run: bool, as_json: bool) -> None:
    """Delete outbox events older than notifications.keep_days that were delivered (with no endpoint: every one but
    the dead letters), and the API's Idempotency-Key answers older than api.idempotency_keep_hours; audited."""
    counts = prune(app, app.actor, dry_run=dry_run)
    if as_json:
        emit_json(counts)
        return
    verb = "would be deleted" if dry_run else "deleted"
    click.echo(f"events: {counts['events_deleted']} {verb} (created before {counts['events_before']}; kept: "
               f"{counts['events_kept_dead']} dead letters, {counts['events_kept_undelivered']} not delivered yet)")
    click.echo(f"API answers: {counts['answers_deleted']} {verb} (kept before {counts['answers_before']})")
