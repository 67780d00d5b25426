"""Monthly KPIs on a hand-built month: every count and rate worked out by hand (docs/domain.md §10)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cases.kpi import Month, ReportError, kpi, to_csv, to_xlsx
from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ResultClass
from huifang.cli import cli
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallbackChannel, CaseStatus, TaskStatus
from storage.models import Agent, AuditEvent, CallbackTask, Case, Policy, SmsOutbox
from tests.factories import policy_row
from tests.intake.test_service import make


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


def build_month(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                calendar: BusinessCalendar) -> None:
    make(session, tmp_path, settings, clock)([
        policy_row(policy_no="P1"), policy_row(policy_no="P2"), policy_row(policy_no="P3"),
        policy_row(policy_no="P4", branch_code="310100", branch_name="上海分公司", agent_code="A2001"),
        policy_row(policy_no="P5", branch_code="310100", branch_name="上海分公司", agent_code="A2001"),
    ])
    tasks = {no: task for task, no in session.execute(select(CallbackTask, Policy.policy_no).join(Policy))}
    policies = {p.policy_no: p for p in session.scalars(select(Policy))}

    def done(no: str, deadline: str, attempts: int, result: ResultClass | None, completed: str | None) -> None:
        task = tasks[no]
        task.deadline, task.attempts, task.result_class = date.fromisoformat(deadline), attempts, result
        task.completed_at = at(completed) if completed else None
        task.status = TaskStatus.COMPLETED if completed else TaskStatus.QUEUED

    done("P1", "2026-11-20", 1, ResultClass.STANDARD, "2026-11-18T10:00:00")  # in time
    done("P2", "2026-11-25", 2, ResultClass.PROBLEM, "2026-11-26T00:30:00")  # 16:30 UTC on the 25th: late
    done("P3", "2026-11-28", 3, ResultClass.VERIFICATION, "2026-11-29T10:00:00")  # unreachable: no success
    done("P4", "2026-11-10", 0, None, None)  # never attempted
    done("P5", "2026-12-03", 1, ResultClass.STANDARD, "2026-11-30T10:00:00")  # due in December: not counted

    def case(no: str, kind: CaseType, created: str, closed: str | None = None) -> None:
        policy = policies[no]
        open_cases(session, [NewCase(policy.id, tasks[no].id, policy.branch_id, kind, "r", "d")], now=at(created),
                   settings=settings.cases, calendar=calendar)
        row = session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert row is not None
        if closed:
            row.status, row.closed_at = CaseStatus.CLOSED, at(closed)

    case("P1", CaseType.FIRST_EXPLANATION_CASE, "2026-11-05T10:00:00", "2026-11-10T10:00:00")  # in SLA (due 11-12)
    case("P2", CaseType.MIS_SELLING_CASE, "2026-11-20T10:00:00")  # open at the end, due in December
    case("P3", CaseType.VERIFICATION_CASE, "2026-11-01T10:00:00")  # open at the end, overdue since 11-08
    case("P2", CaseType.PROXY_SIGNATURE_CASE, "2026-10-20T10:00:00", "2026-11-03T10:00:00")  # raised in October
    case("P4", CaseType.FIRST_EXPLANATION_CASE, "2026-11-15T10:00:00", "2026-11-25T10:00:00")  # closed late
    session.flush()


def test_the_kpis_of_a_hand_built_month(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                                        calendar: BusinessCalendar) -> None:
    build_month(session, tmp_path, settings, clock, calendar)
    report = kpi(session, Month.parse("2026-11"), "branch")
    beijing, shanghai = report["rows"]
    assert {k: beijing[k] for k in ("key", "due", "attempted", "successful", "successful_in_cooling_off", "problem",
                                    "problem_cases", "problem_cases_closed_in_sla", "open_cases", "overdue_cases")} == {
        "key": "110100", "due": 3, "attempted": 3, "successful": 2, "successful_in_cooling_off": 1, "problem": 1,
        "problem_cases": 2, "problem_cases_closed_in_sla": 1, "open_cases": 2, "overdue_cases": 1}
    assert {k: beijing[k] for k in ("coverage_rate", "success_rate", "in_cooling_off_success_rate",
                                    "problem_case_ratio", "problem_case_completion_rate", "overdue_rate")} == {
        "coverage_rate": 1.0, "success_rate": 0.6667, "in_cooling_off_success_rate": 0.3333,
        "problem_case_ratio": 0.5, "problem_case_completion_rate": 0.5, "overdue_rate": 0.5}
    assert (shanghai["key"], shanghai["due"], shanghai["coverage_rate"], shanghai["problem_case_ratio"],
            shanghai["problem_case_completion_rate"], shanghai["overdue_rate"]) == ("310100", 1, 0.0, None, 0.0, None)
    total = report["total"]
    assert (total["due"], total["success_rate"], total["in_cooling_off_success_rate"],
            total["problem_case_completion_rate"]) == (4, 0.5, 0.25, 0.3333)


def test_other_groupings_and_bad_input(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                                       calendar: BusinessCalendar) -> None:
    build_month(session, tmp_path, settings, clock, calendar)
    by_agent = kpi(session, Month.parse("2026-11"), "agent")
    assert {r["key"]: r["due"] for r in by_agent["rows"]} == {"A1001": 3, "A2001": 1}
    assert [r["key"] for r in kpi(session, Month.parse("2026-11"), "product_type")["rows"]] == ["traditional"]


def test_the_kpis_count_by_callback_channel(session: Session, tmp_path: Path, settings: Settings,
                                             clock: FrozenClock, calendar: BusinessCalendar) -> None:
    """Grouped by the channel each callback is on (回访方式): P3 went to a letter after the phone, P1 finished
    on the e-callback; their cases are counted with their task's channel; the totals are those of any grouping."""
    build_month(session, tmp_path, settings, clock, calendar)
    tasks = {no: t for t, no in session.execute(select(CallbackTask, Policy.policy_no).join(Policy))}
    tasks["P3"].channel, tasks["P1"].channel = CallbackChannel.LETTER, CallbackChannel.ECALLBACK
    session.flush()
    month = Month.parse("2026-11")
    report = kpi(session, month, "callback_channel")
    rows = {r["key"]: r for r in report["rows"]}
    assert {k: (r["due"], r["successful"]) for k, r in rows.items()} == {
        "ecallback": (1, 1), "letter": (1, 0), "phone": (2, 1)}  # P2 (problem: reached) and P4
    assert rows["letter"]["open_cases"] == 1  # P3's verification case, open at the month's end
    assert report["total"] == kpi(session, month, "branch")["total"]
    with pytest.raises(ReportError, match="--month '2026-13': expected YYYY-MM"):
        Month.parse("2026-13")
    assert Month.parse("2026-12").last == date(2026, 12, 31)


def test_exports_open_back(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                           calendar: BusinessCalendar) -> None:
    build_month(session, tmp_path, settings, clock, calendar)
    report = kpi(session, Month.parse("2026-11"), "branch")
    to_xlsx(report, tmp_path / "kpi.xlsx")
    sheet = load_workbook(tmp_path / "kpi.xlsx").active
    assert sheet is not None
    assert sheet.title == "2026-11 按机构"
    assert [c.value for c in sheet[1]][:3] == ["分组", "回访覆盖率", "回访成功率"]
    assert [c.value for c in sheet["A"]] == ["分组", "110100", "310100", "合计"]
    assert sheet["C2"].value == pytest.approx(0.6667)
    assert sheet["C2"].number_format == "0.00%"
    lines = to_csv(report).splitlines()
    assert lines[0].startswith("分组,回访覆盖率,回访成功率")
    assert lines[-1].startswith("合计,0.75,0.5,0.25,")


def test_report_cli(engine: Engine, db_url: str, tmp_path: Path, settings: Settings, clock: FrozenClock,
                    calendar: BusinessCalendar) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        build_month(session, tmp_path, settings, clock, calendar)
    env = {"HUIFANG_DATABASE_URL": db_url}
    result = CliRunner().invoke(cli, ["report", "kpi", "--month", "2026-11", "--by", "branch", "--json",
                                      "--csv", str(tmp_path / "k.csv"), "--xlsx", str(tmp_path / "k.xlsx")], env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["month"], data["by"], len(data["rows"])) == ("2026-11", "branch", 2)
    assert set(data["rows"][0]) >= {"key", "due", "coverage_rate", "success_rate", "in_cooling_off_success_rate",
                                    "problem_case_ratio", "problem_case_completion_rate", "overdue_rate"}
    assert (tmp_path / "k.csv").read_text(encoding="utf-8-sig").startswith("分组")
    assert (tmp_path / "k.xlsx").is_file()
    agents = json.loads(CliRunner().invoke(cli, ["report", "agents", "--month", "2026-11", "--json"], env=env).stdout)
    assert [(a["agent_code"], a["due"], a["success_rate"]) for a in agents["agents"]] == [("A1001", 3, 0.6667)]
    bad = CliRunner().invoke(cli, ["report", "kpi", "--month", "nov"], env=env)
    assert (bad.exit_code, "--month 'nov': expected YYYY-MM" in bad.stderr) == (1, True)


def test_the_agents_warning_sms_goes_once_per_agent_and_month(engine: Engine, db_url: str, tmp_path: Path,
                                                               settings: Settings, clock: FrozenClock,
                                                               calendar: BusinessCalendar) -> None:
    """`report agents --send-warnings`: the agent below the threshold gets the configured text through the SMS
    queue (the simulated provider's outbox here), once: a second run sends nothing and says so; each warning
    is on the audit trail with the operator and the reason."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        build_month(session, tmp_path, settings, clock, calendar)
        agent_phone = session.scalars(select(Agent.phone).where(Agent.code == "A1001")).one()
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_OPERATOR": "王主管"}
    args = ["report", "agents", "--month", "2026-11", "--send-warnings", "--json"]
    run = CliRunner().invoke(cli, args, env=env)
    assert run.exit_code == 0, run.stderr
    first = json.loads(run.stdout)
    assert [(w["agent_code"], w["status"]) for w in first["warnings"]] == [("A1001", "sent")]
    assert first["warnings"][0]["message_sid"]
    again = json.loads(CliRunner().invoke(cli, args, env=env).stdout)
    assert [(w["agent_code"], w["status"], w["message_sid"]) for w in again["warnings"]] == [
        ("A1001", "already_warned", None)]
    with Session(engine) as session:
        sent = session.scalars(select(SmsOutbox)).all()
        assert [(m.to_number, "66.7%" in m.body, "低于80.0%的预警线" in m.body, "2026年11月" in m.body)
                for m in sent] == [(agent_phone, True, True, True)]
        trail = session.scalars(select(AuditEvent).where(AuditEvent.action == "agent_warning")).all()
        assert [(e.operator, e.target, e.reason) for e in trail] == [("王主管", "agent A1001 2026-11", "月度回访成功率预警")]
