"""`huifang cases list | show | sweep`: the branch problem-case queue (docs/interfaces.md)."""

from __future__ import annotations

from datetime import date, datetime

import click

from cases.service import sweep
from huifang.app import App
from huifang.output import emit_json, emit_table
from huifang.views import case_view
from kit.clock import BUSINESS_TZ, business_start_of, isoformat_local
from kit.vocab import CaseType, SlaStatus
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
        from storage.models import Branch

        branch = session.get(Branch, case.branch_id)
        view = case_view(case, branch.code if branch else "", app.clock, app.settings)
        view["history"] = [{"at": isoformat_local(e.at), "who": e.who, "action": e.action, "note": e.note}
                           for e in case_repo.events(session, case_id)]
    if as_json:
        emit_json(view)
        return
    emit_table(["field", "value"], [(k, v) for k, v in view.items() if k != "history"])
    click.echo()
    emit_table(["at", "who", "action", "note"], [(h["at"], h["who"], h["action"], h["note"]) for h in view["history"]])


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
