"""`huifang tasks channel POLICY_NO --to CHANNEL --reason R`: move a callback to another channel (docs/interfaces.md).
Parsing and printing only: the rule, the scope, the work order and the audit live in channels.switch."""

from __future__ import annotations

from typing import Any

import click

from channels.switch import ChannelRefused, Moved, move
from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import NotAllowed
from kit.clock import business_today
from kit.vocab import CallbackChannel
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo
from tasks.views import TaskLine, task_view


@click.command("channel")
@click.argument("policy_no")
@click.option("--to", "to", required=True, type=click.Choice([c.value for c in CallbackChannel]),
              help="phone, ecallback (the SMS link), letter or visit (the branch gets the work order).")
@click.option("--reason", required=True, help="Why (the applicant's choice, the branch's decision): audited.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def channel_command(app: App, policy_no: str, to: str, reason: str, as_json: bool) -> None:
    """Move a policy's callback to another channel (回访方式), audited with who and why. A callback that did not
    succeed is reopened there; a successful or cancelled one is refused."""
    now = app.clock.now()
    with app.unit_of_work() as session:
        policy = policy_repo.by_number(session, policy_no, actor=app.actor)
        task = task_repo.for_policy(session, policy.id) if policy else None
        if task is None:
            raise click.ClickException(f"no callback task for policy {policy_no}")
        try:
            moved = move(session, task, CallbackChannel(to), actor=app.actor, reason=reason, now=now,
                         settings=app.settings, calendar=app.calendar)
        except (ChannelRefused, NotAllowed) as exc:
            raise click.ClickException(str(exc)) from None
        reasons = task_repo.active_hold_reasons(session, [task.id]).get(task.id, [])
        view = channel_view(TaskLine(policy_no, task_view(task, [r.value for r in reasons], business_today(app.clock))),
                            moved)
        session.commit()
    if as_json:
        emit_json(view)
        return
    if moved.changed:
        click.echo(f"{policy_no}: {moved.before} → {moved.after}"
                   + (f" (work order: case {moved.case_id})" if moved.case_id else ""))
    else:
        click.echo(f"{policy_no}: already on {moved.after}; nothing changed")
    emit_table(["field", "value"], [(k, ", ".join(v) if isinstance(v, list) else v) for k, v in view.items()])


def channel_view(line: TaskLine, moved: Moved) -> dict[str, Any]:
    """The task object (as `tasks list` prints it) plus its `channel`, and the letter or visit work order."""
    return {**line.to_json(), "channel": line.task.channel, "case_id": moved.case_id}
