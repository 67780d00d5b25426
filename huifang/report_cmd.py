"""`huifang report kpi | agents`: monthly KPIs (JSON, table, CSV, Excel) and agent warnings."""

from __future__ import annotations

from pathlib import Path

import click

from cases.agent_notices import queue_warnings
from cases.kpi import GROUPINGS, RATES, Month, ReportError, agent_warnings, kpi, to_csv, to_xlsx
from huifang.app import App
from huifang.ecallback_cmd import outbound
from huifang.output import emit_json, emit_table


@click.group("report")
def report_group() -> None:
    """Management reports."""


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@report_group.command("kpi")
@click.option("--month", "month_text", required=True, help="YYYY-MM")
@click.option("--by", default="branch", show_default=True, type=click.Choice(GROUPINGS))
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def report_kpi(app: App, month_text: str, by: str, xlsx_path: Path | None, csv_path: Path | None,
               as_json: bool) -> None:
    """The month's callback KPIs by branch, channel, agent or product type (tasks due in the month)."""
    month = _month(month_text)
    with app.unit_of_work() as session:
        report = kpi(session, month, by)
    if xlsx_path:
        to_xlsx(report, xlsx_path)
    if csv_path:
        csv_path.write_text(to_csv(report), encoding="utf-8-sig")
    if as_json:
        emit_json(report)
        return
    emit_table([by, "due", *RATES], [(r["key"], r["due"], *(_pct(r[k]) for k in RATES))
                                     for r in [*report["rows"], report["total"]]])


@report_group.command("agents")
@click.option("--month", "month_text", required=True, help="YYYY-MM")
@click.option("--send-warnings", is_flag=True,
              help="text each of them the warning (reports.agent_warning_sms), once per agent and month; audited")
@click.option("--reason", default="月度回访成功率预警", show_default=True, help="for the audit trail")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def report_agents(app: App, month_text: str, send_warnings: bool, reason: str, as_json: bool) -> None:
    """Agents whose phone-callback success rate is below reports.agent_warning_success_rate (月度预警)."""
    month = _month(month_text)
    with app.unit_of_work() as session:
        result = agent_warnings(session, month, app.settings.reports)
        notices = (queue_warnings(session, month, settings=app.settings, actor=app.actor, now=app.clock.now(),
                                  reason=reason) if send_warnings else [])
        session.commit()
    warned = result["agents"]
    if send_warnings:  # after the commit, no transaction open
        sender = outbound(app)
        sent = {n.message_id: sender.send_now(n.message_id) for n in notices if n.message_id is not None}
        result["warnings"] = [{"agent_code": n.agent_code, "status": n.status if n.message_id is None
                               else sent[n.message_id].status, "message_sid": sent[n.message_id].provider_sid
                               if n.message_id is not None else None} for n in notices]
    if as_json:
        emit_json(result)
        return
    emit_table(["agent", "name", "due", "successful", "success_rate"],
               [(w["agent_code"], w["agent_name"], w["due"], w["successful"], _pct(w["success_rate"])) for w in warned])


@report_group.command("qa")
@click.option("--period", required=True, help="YYYY-MM: the sample's month")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def report_qa(app: App, period: str, xlsx_path: Path | None, as_json: bool) -> None:
    """Quality measures from the period's reviews (first opinions): answer accuracy, false yes / no,
    classification accuracy, by topic, language, model and channel; case handling scores by branch."""
    from qa.export import to_xlsx
    from qa.measures import measures
    from qa.sampling import SamplingError

    with app.unit_of_work() as session:
        try:
            report = measures(session, app.actor, period).to_json()
        except SamplingError as exc:
            raise click.ClickException(str(exc)) from None
    if xlsx_path:
        to_xlsx(report, xlsx_path)
    if as_json:
        emit_json(report)
        return
    emit_table(["measure", "value"], [(k, _pct(report[k]) if k.endswith("accuracy") else report[k])
                                      for k in ("answer_accuracy", "false_yes", "false_no", "classification_accuracy",
                                                "reviewed_answers", "reviewed_calls")])
    if report["by_topic"]:
        click.echo()
        emit_table(["topic", "marked", "right", "accuracy", "false_yes", "false_no"],
                   [(r["key"], r["marked"], r["right"], _pct(r["accuracy"]), r["false_yes"], r["false_no"])
                    for r in report["by_topic"]])
