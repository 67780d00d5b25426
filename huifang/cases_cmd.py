"""`huifang cases list | show | sweep`: the branch problem-case queue (docs/interfaces.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from cases.actions import Action, ActionRefused, Handling, assign, resolve
from cases.service import sweep
from flows.vocab import CaseType
from huifang.app import App, operator
from huifang.output import emit_json, emit_table
from huifang.views import case_view
from kit.clock import BUSINESS_TZ, business_start_of, isoformat_local
from kit.vocab import SlaStatus
from storage.models import Case
from storage.repositories import cases as case_repo


def month_starts(now: datetime) -> tuple[datetime, datetime]:
    """The starts of last month and of the month before it, in business time."""
    today = now.astimezone(BUSINESS_TZ).date()
    first = date(today.year, today.month, 1)
    last = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    before = date(last.year - (last.month == 1), (last.month - 2) % 12 + 1, 1)
    return business_start_of(last), business_start_of(before)


@click.group("cases")
def cases_group() -> None:
    """Branch problem cases (work orders) and their SLA clocks."""


@cases_group.command("list")
@click.option("--branch", "branch_code", default=None)
@click.option("--type", "case_type", type=click.Choice([t.value for t in CaseType]), default=None)
@click.option("--sla-status", type=click.Choice([s.value for s in SlaStatus]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_list(app: App, branch_code: str | None, case_type: str | None, sla_status: str | None,
               as_json: bool) -> None:
    """Open cases in processing order: verification first, then by the month raised, earliest due first."""
    with app.unit_of_work() as session:
        rows = case_repo.queue(session, month_starts=month_starts(app.clock.now()), branch_code=branch_code,
                               case_type=CaseType(case_type) if case_type else None,
                               sla=SlaStatus(sla_status) if sla_status else None)
        views = [case_view(c, code, app.clock, app.settings) for c, code in rows]
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
    with app.unit_of_work() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise click.ClickException(f"no case {case_id}")
        view = _view(session, app, case)
    _print(view, as_json)


@cases_group.command("sweep")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_sweep(app: App, as_json: bool) -> None:
    """Bring every open case's SLA status up to date (the dialer runs this every few minutes)."""
    with app.unit_of_work() as session:
        changed = sweep(session, now=app.clock.now(), settings=app.settings.cases)
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
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_resolve(app: App, case_id: int, action_name: str, note: str, phone: str | None, at_text: str | None,
                  told_rescission: bool, as_json: bool) -> None:
    """Record a branch's handling of a case, with its effect on the callback."""
    from dialer.case_rules import DialerCaseRules

    at = None
    if at_text:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise click.ClickException(f"--at {at_text!r} is not an ISO 8601 time") from None
    handling = Handling(Action(action_name), operator(), note, phone, at, told_rescission)
    with app.unit_of_work() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise click.ClickException(f"no case {case_id}")
        try:
            resolve(session, case, handling, now=app.clock.now(), settings=app.settings, calendar=app.calendar,
                    rules=DialerCaseRules(app.settings, app.calendar))
        except ActionRefused as exc:
            raise click.ClickException(f"case {case_id}: {exc}") from None
        view = _view(session, app, case)
    _print(view, as_json)


@cases_group.command("assign")
@click.argument("case_id", type=int)
@click.option("--to", "to", required=True, help="Who handles it (staff code or name).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cases_assign(app: App, case_id: int, to: str, as_json: bool) -> None:
    """Give a case to someone (a mis-selling case never to the policy's own agent)."""
    with app.unit_of_work() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise click.ClickException(f"no case {case_id}")
        try:
            assign(session, case, to, who=operator(), now=app.clock.now())
        except ActionRefused as exc:
            raise click.ClickException(f"case {case_id}: {exc}") from None
        view = _view(session, app, case)
    _print(view, as_json)


def _view(session: Session, app: App, case: Case) -> dict[str, Any]:
    from storage.models import Branch

    branch = session.get(Branch, case.branch_id)
    view = case_view(case, branch.code if branch else "", app.clock, app.settings)
    view.update({"assigned_to": case.assigned_to, "resolution_action": case.resolution_action,
                 "overdue_explanation": case.overdue_explanation,
                 "history": [{"at": isoformat_local(e.at), "who": e.who, "action": e.action, "note": e.note}
                             for e in case_repo.events(session, case.id)]})
    return view


def _print(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    emit_table(["field", "value"], [(k, v) for k, v in view.items() if k != "history"])
    click.echo()
    emit_table(["at", "who", "action", "note"], [(h["at"], h["who"], h["action"], h["note"]) for h in view["history"]])
