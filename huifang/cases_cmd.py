"""`huifang cases list | show | resolve | assign | sweep`: the branch problem-case queue (docs/interfaces.md).
Parsing and printing only: the queue, the actions and the read models live in cases/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from cases.actions import Action, ActionRefused, CaseNotFound, Handling, Outcome, assign, load, resolve
from cases.queue import Assignee, QueueFilter, parse_month, queue
from cases.service import sweep
from cases.views import case_detail
from flows.vocab import CaseType
from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import NotAllowed
from kit.vocab import SlaStatus


@click.group("cases")
def cases_group() -> None:
    """Branch problem cases (work orders) and their SLA clocks."""


@cases_group.command("list")
@click.option("--branch", "branch_code", default=None)
@click.option("--type", "case_type", type=click.Choice([t.value for t in CaseType]), default=None)
@click.option("--sla-status", type=click.Choice([s.value for s in SlaStatus]), default=None)
@click.option("--assignee", type=click.Choice([a.value for a in Assignee]), default=Assignee.ANYONE.value,
              help="me: the cases assigned to you (HUIFANG_OPERATOR); unassigned: to no one yet.")
@click.option("--month", "month_text", default=None, help="YYYY-MM: the month the case was raised (Beijing time).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_list(app: App, branch_code: str | None, case_type: str | None, sla_status: str | None, assignee: str,
               month_text: str | None, as_json: bool) -> None:
    """Open cases in processing order: verification first, then by the month raised, earliest due first."""
    try:
        month = parse_month(month_text) if month_text else None
    except ValueError:
        raise click.ClickException(f"--month {month_text!r}: write it as YYYY-MM, e.g. 2026-11") from None
    filters = QueueFilter(branch_code, CaseType(case_type) if case_type else None,
                          SlaStatus(sla_status) if sla_status else None, assignee=Assignee(assignee), month=month)
    with app.unit_of_work() as session:
        views = [v.to_json() for v in queue(session, app.actor, app.clock.now(), filters)]
    if as_json:
        emit_json(views)
        return
    emit_table(["id", "branch", "type", "reason", "sla", "due_at", "detail"],
               [(v["id"], v["branch_code"], v["type"], v["reason"], v["sla_status"], v["due_at"], v["detail"])
                for v in views])


@cases_group.command("show")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_show(app: App, case_id: int, as_json: bool) -> None:
    """One case with its history."""
    with app.unit_of_work() as session, _refusals(case_id):
        case, code = load(session, app.actor, case_id)
        view = case_detail(session, case, code, app.clock.now()).to_json(detail=True)
    _print(view, [], as_json)


@cases_group.command("sweep")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_sweep(app: App, as_json: bool) -> None:
    """Bring every open case's SLA status up to date (the dialer runs this every few minutes)."""
    with app.unit_of_work() as session:
        changed = sweep(session, now=app.clock.now(), settings=app.settings.cases)
        session.commit()
    if as_json:
        emit_json({"changed": changed})
    else:
        click.echo("changed: " + ", ".join(f"{k} {v}" for k, v in changed.items()))


@cases_group.command("resolve")
@click.argument("case_id", type=int)
@click.option("--action", "action_name", required=True, type=click.Choice([a.value for a in Action]))
@click.option("--note", default="", help="What was done or said (required for some actions).")
@click.option("--phone", default=None, help="phone_corrected: the new number.")
@click.option("--at", "at_text", default=None, help="appointment_set: ISO 8601 with offset.")
@click.option("--told-rescission", is_flag=True, help="mis_selling_handled, health products: right to rescind told.")
@click.option("--visitor", default=None,
              help="signed_questionnaire on an in_person_visit_case: who made the visit (never the policy's agent).")
@click.option("--version", "version", type=int, default=None,
              help="The case version you decided on (from cases show): refused if someone changed it since.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_resolve(app: App, case_id: int, action_name: str, note: str, phone: str | None, at_text: str | None,
                  told_rescission: bool, visitor: str | None, version: int | None, as_json: bool) -> None:
    """Record a branch's handling of a case, with its effect on the callback."""
    from huifang.case_rules import CaseRules

    at = None
    if at_text:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise click.ClickException(f"--at {at_text!r} is not an ISO 8601 time") from None
    handling = Handling(Action(action_name), note, phone, at, told_rescission, visitor)
    with app.unit_of_work() as session, _refusals(case_id):
        outcome = resolve(session, app.actor, case_id, handling, now=app.clock.now(), settings=app.settings,
                          calendar=app.calendar, rules=CaseRules(app.settings, app.calendar),
                          expected_version=version)
        view = _outcome_view(session, app, outcome)
        session.commit()
    _print(view, outcome.effects, as_json)


@cases_group.command("assign")
@click.argument("case_id", type=int)
@click.option("--to", "to", required=True, help="Who handles it (staff code or name).")
@click.option("--version", "version", type=int, default=None,
              help="The case version you decided on: refused if someone changed it since.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_assign(app: App, case_id: int, to: str, version: int | None, as_json: bool) -> None:
    """Give a case to someone (a mis-selling case never to the policy's own agent)."""
    with app.unit_of_work() as session, _refusals(case_id):
        outcome = assign(session, app.actor, case_id, to, now=app.clock.now(), expected_version=version)
        view = _outcome_view(session, app, outcome)
        session.commit()
    _print(view, outcome.effects, as_json)


class _refusals:
    """Turn a refusal into one line naming the case (the message itself does not repeat it)."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, CaseNotFound):
            raise click.ClickException(str(exc)) from None
        if isinstance(exc, ActionRefused | NotAllowed):
            raise click.ClickException(f"case {self.case_id}: {exc}") from None


def _outcome_view(session: Any, app: App, outcome: Outcome) -> dict[str, Any]:
    view = case_detail(session, outcome.case, outcome.branch_code, app.clock.now()).to_json(detail=True)
    view["effects"] = [str(e) for e in outcome.effects]
    return view


def _print(view: dict[str, Any], effects: Sequence[object], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    for effect in effects:
        click.echo(f"done: {effect}")
    emit_table(["field", "value"], [(k, v) for k, v in view.items() if k not in ("history", "effects")])
    click.echo()
    emit_table(["at", "who", "action", "note"], [(h["at"], h["who"], h["action"], h["note"]) for h in view["history"]])
