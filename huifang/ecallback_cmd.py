"""`huifang ecallback send | tick` and `huifang sms outbox`: parsing and printing only; the rules live in
ecallback/ and messaging/. Each command commits once, and sends its SMS after that commit."""

from __future__ import annotations

import click

from channels.switch import ChannelRefused
from ecallback.jobs import tick
from ecallback.links import LinkRefused, send_by_hand
from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import NotAllowed
from kit.clock import isoformat_local
from messaging.queue import Outbound
from messaging.senders import build_sender, outbox
from storage.models import CallbackTask
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo


def outbound(app: App) -> Outbound:
    return Outbound(app.sessions, build_sender(app.settings, app.sessions, app.clock), app.clock, app.settings.sms)


@click.group("ecallback")
def ecallback_group() -> None:
    """E-callback (电子化回访): SMS links to the questionnaire's H5 page."""


@ecallback_group.command("send")
@click.option("--policy", "policy_no", required=True)
@click.option("--reason", default="发送电子化回访链接", show_default=True, help="Why (audited).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ecallback_send(app: App, policy_no: str, reason: str, as_json: bool) -> None:
    """Send the policy's applicant a new e-callback link (the callback moves to the e-callback first when it is
    on another channel; the link before it stops working)."""
    now = app.clock.now()
    with app.unit_of_work() as session:
        policy = policy_repo.by_number(session, policy_no, actor=app.actor)
        task = task_repo.for_policy(session, policy.id) if policy is not None else None
        if policy is None or task is None:
            raise click.ClickException(f"no callback for policy {policy_no}")
        session.refresh(task, with_for_update=True)
        assert isinstance(task, CallbackTask)
        try:
            issued = send_by_hand(session, task, policy, actor=app.actor, reason=reason, now=now,
                                  settings=app.settings, calendar=app.calendar)
        except (LinkRefused, ChannelRefused, NotAllowed) as exc:
            raise click.ClickException(str(exc)) from None
        expires = isoformat_local(issued.link.expires_at)
        session.commit()
    sent = outbound(app).send_now(issued.message_id)  # after the commit, no transaction open
    result = {"policy_no": policy_no, "link": issued.url, "expires_at": expires, "message_sid": sent.provider_sid,
              "status": sent.status}
    if as_json:
        emit_json(result)
        return
    click.echo(f"{policy_no}: {issued.url} (until {expires}), SMS {sent.status} {sent.provider_sid or sent.error}")


def run_tick(app: App) -> dict[str, object]:
    """The e-callback job (`huifang ecallback tick`, and the dialer's job `ecallback` each tick)."""
    report = tick(app.sessions, outbound(app), settings=app.settings, calendar=app.calendar, clock=app.clock)
    return {"links_sent": report.links_sent, "fell_through": report.fell_through, "refused": report.refused,
            "messages": {status: sum(1 for m in report.messages if m.status == status)
                         for status in ("sent", "pending", "failed")}}


@ecallback_group.command("tick")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ecallback_tick(app: App, as_json: bool) -> None:
    """Send links to queued e-callback tasks that have none; move unanswered ones to the next channel; send
    the SMS waiting in the queue."""
    result = run_tick(app)
    if as_json:
        emit_json(result)
        return
    click.echo(f"links sent: {len(result['links_sent'])}; moved on: {len(result['fell_through'])}; "  # type: ignore[arg-type]
               f"messages: {result['messages']}")


@click.group("sms")
def sms_group() -> None:
    """Text messages."""


@sms_group.command("outbox")
@click.option("--to", "to", default=None, help="Only the messages to this number (E.164).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sms_outbox(app: App, to: str | None, as_json: bool) -> None:
    """What the simulated provider (sms.provider = outbox) sent, oldest first."""
    with app.unit_of_work() as session:
        entries = [{"to": e.to, "body": e.body, "sent_at": isoformat_local(e.sent_at)} for e in outbox(session, to)]
    if as_json:
        emit_json(entries)
        return
    emit_table(["to", "sent_at", "body"], [(e["to"], e["sent_at"], e["body"]) for e in entries])
