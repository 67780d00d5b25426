"""The monthly KPI counts (storage.repositories.reports) checked against the statements they replaced (every task
and every case joined to policy, branch and agent whatever the grouping; every case ever raised read), on the
hand-built month of tests/cases/test_kpi.py and more edges: a reclassified task and the case its first result
raised, closed by the reclassification; a problem case raised in one month and closed in the next; a case
raised at the month's last instant and one at the next month's first; a completion after the month's
cut-off; an agent whose only case was closed long before (the old statements gave that agent a row of zeros:
the only difference, kept on purpose); a case whose branch is not its policy's branch now."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cases.kpi import PROBLEM_CASE_TYPES, SUCCESS_CLASSES, Month, agent_warnings, kpi
from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ResultClass
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import ReportSettings, Settings
from kit.vocab import CaseStatus, TaskStatus
from storage.models import Agent, Branch, CallbackTask, Case, Policy
from storage.repositories import reports
from tests.cases.test_kpi import build_month
from tests.factories import policy_row
from tests.intake.test_service import make

GROUPINGS = ("branch", "channel", "agent", "product_type")
MONTHS = ("2026-09", "2026-10", "2026-11", "2026-12")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


# --- the statements as they were (the reference) ----------------------------------------------------------------

def _key(by: str) -> ColumnElement[str]:
    keys = {"branch": Branch.code, "channel": Policy.channel, "agent": Agent.code, "product_type": Policy.product_type}
    return keys[by]  # type: ignore[return-value]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0)).cast(Integer)


def tasks_before(session: Session, by: str, month: Month) -> dict[str, dict[str, int]]:
    done = and_(CallbackTask.completed_at.is_not(None), CallbackTask.completed_at < month.end)
    success = and_(done, CallbackTask.result_class.in_(list(SUCCESS_CLASSES)))
    completed_on = reports._completed_business_date(session)
    stmt = (select(_key(by), func.count(), _count(CallbackTask.attempts > 0), _count(success),
                   _count(and_(success, completed_on <= CallbackTask.deadline)),
                   _count(and_(done, CallbackTask.result_class == ResultClass.PROBLEM)))
            .select_from(CallbackTask).join(Policy, Policy.id == CallbackTask.policy_id)
            .join(Branch, Branch.id == Policy.branch_id).join(Agent, Agent.id == Policy.agent_id)
            .where(CallbackTask.deadline >= month.first, CallbackTask.deadline <= month.last).group_by(_key(by)))
    names = ("due", "attempted", "successful", "successful_in_cooling_off", "problem")
    return {str(k): dict(zip(names, (int(v or 0) for v in values), strict=True)) for k, *values in session.execute(stmt)}


def cases_before(session: Session, by: str, month: Month,
                 types: Collection[CaseType] = PROBLEM_CASE_TYPES) -> dict[str, dict[str, int]]:
    start, end = month.start, month.end
    problem = and_(Case.type.in_(list(types)), Case.created_at >= start, Case.created_at < end)
    closed_in_sla = and_(problem, Case.closed_at.is_not(None), Case.closed_at < end, Case.closed_at <= Case.due_at)
    open_at_end = and_(Case.created_at < end, (Case.closed_at.is_(None)) | (Case.closed_at >= end))
    stmt = (select(_key(by), _count(problem), _count(closed_in_sla), _count(open_at_end),
                   _count(and_(open_at_end, Case.due_at < end)))
            .select_from(Case).join(Policy, Policy.id == Case.policy_id)
            .join(Branch, Branch.id == Case.branch_id).join(Agent, Agent.id == Policy.agent_id)
            .where(Case.created_at < end).group_by(_key(by)))
    names = ("problem_cases", "problem_cases_closed_in_sla", "open_cases", "overdue_cases")
    return {str(k): dict(zip(names, (int(v or 0) for v in values), strict=True)) for k, *values in session.execute(stmt)}


def tasks_now(session: Session, by: str, month: Month) -> dict[str, dict[str, int]]:
    return reports.task_counts(session, by, month.first, month.last, month.end, success_classes=SUCCESS_CLASSES,
                               problem_class=ResultClass.PROBLEM)


def cases_now(session: Session, by: str, month: Month) -> dict[str, dict[str, int]]:
    return reports.case_counts(session, by, month.start, month.end, problem_case_types=PROBLEM_CASE_TYPES)


def without_zero_rows(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {key: row for key, row in counts.items() if any(row.values())}


# --- the data -------------------------------------------------------------------------------------------------

@pytest.fixture
def world(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
          calendar: BusinessCalendar) -> Session:
    build_month(session, tmp_path, settings, clock, calendar)
    tj = {"branch_code": "120100", "branch_name": "天津分公司", "agent_code": "A3001", "channel": "bancassurance",
          "product_type": "health"}
    make(session, tmp_path, settings, clock)([
        policy_row(policy_no="P6", **tj), policy_row(policy_no="P7", **tj), policy_row(policy_no="P9", **tj),
        policy_row(policy_no="P8", branch_code="310100", branch_name="上海分公司", agent_code="A4001"),
        policy_row(policy_no="P10", agent_code="A1001"),
    ])
    policies = {p.policy_no: p for p in session.scalars(select(Policy))}
    tasks = {no: task for task, no in session.execute(select(CallbackTask, Policy.policy_no).join(Policy))}

    def task(no: str, deadline: str, result: ResultClass | None = None, completed: str | None = None) -> None:
        row = tasks[no]
        row.deadline, row.attempts, row.result_class = date.fromisoformat(deadline), 1 if result else 0, result
        row.completed_at = at(completed) if completed else None
        row.status = TaskStatus.COMPLETED if completed else TaskStatus.QUEUED

    def raise_case(no: str, kind: CaseType, created: str, closed: str | None = None,
                   branch_of: str | None = None) -> None:
        policy = policies[no]
        branch_id = policies[branch_of].branch_id if branch_of else policy.branch_id
        open_cases(session, [NewCase(policy.id, tasks[no].id, branch_id, kind, "r", "d")], now=at(created),
                   settings=settings.cases, calendar=calendar)
        row = session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert row is not None
        if closed:
            row.status, row.closed_at = CaseStatus.CLOSED, at(closed)

    # P6: a problem result on the 14th raised a mis-selling case; reclassified standard on the 16th, which closed it
    task("P6", "2026-11-15", ResultClass.PROBLEM, "2026-11-14T10:00:00")
    raise_case("P6", CaseType.MIS_SELLING_CASE, "2026-11-14T10:00:00")
    tasks["P6"].result_class = ResultClass.STANDARD
    closed = session.scalars(select(Case).where(Case.task_id == tasks["P6"].id)).one()
    closed.status, closed.closed_at = CaseStatus.CLOSED, at("2026-11-16T09:00:00")
    # P7: a problem case raised on 28 November, closed on 2 December; one raised at November's last instant
    task("P7", "2026-10-20", ResultClass.STANDARD, "2026-10-19T10:00:00")
    raise_case("P7", CaseType.FIRST_EXPLANATION_CASE, "2026-11-28T10:00:00", "2026-12-02T10:00:00")
    raise_case("P7", CaseType.LETTER_CASE, "2026-11-30T23:59:59")
    raise_case("P7", CaseType.CONTRACT_QUALITY_CASE, "2026-12-01T00:00:00")
    # P9: due on the 30th, completed half an hour into December: not done in November's report
    task("P9", "2026-11-30", ResultClass.STANDARD, "2026-12-01T00:30:00")
    # P8: agent A4001's only case, raised and closed in September; the task due in September
    task("P8", "2026-09-20", ResultClass.VERIFICATION, "2026-09-15T10:00:00")
    raise_case("P8", CaseType.VERIFICATION_CASE, "2026-09-01T10:00:00", "2026-09-10T10:00:00")
    # P10: a case booked to Tianjin while its policy is Beijing's (the policy moved since), open at the end
    task("P10", "2026-12-10")
    raise_case("P10", CaseType.PROXY_SIGNATURE_CASE, "2026-10-05T10:00:00", branch_of="P6")
    session.flush()
    return session


@pytest.mark.parametrize("by", GROUPINGS)
def test_the_counts_are_the_old_statements(world: Session, by: str) -> None:
    for text in MONTHS:
        month = Month.parse(text)
        assert tasks_now(world, by, month) == tasks_before(world, by, month), (text, by)
        assert cases_now(world, by, month) == without_zero_rows(cases_before(world, by, month)), (text, by)


def test_the_edges_count_as_worked_out(world: Session) -> None:
    november, december = Month.parse("2026-11"), Month.parse("2026-12")
    tianjin = cases_now(world, "branch", november)["120100"]
    # raised: P6's (closed in time by the reclassification), P7's two; open at the end: P7's two, P10's (booked
    # to Tianjin); overdue then: P10's (raised 5 October)
    assert tianjin == {"problem_cases": 3, "problem_cases_closed_in_sla": 1, "open_cases": 3, "overdue_cases": 1}
    assert cases_now(world, "agent", november)["A3001"]["problem_cases"] == 3
    assert cases_now(world, "agent", november)["A1001"]["open_cases"] == 3  # P2, P3 and P10 (policy's agent)
    # December: P7's raised at its first instant; open at its end: P7's last two and P10's, all past their 7 days
    assert cases_now(world, "branch", december)["120100"] == {
        "problem_cases": 1, "problem_cases_closed_in_sla": 0, "open_cases": 3, "overdue_cases": 3}
    assert tasks_now(world, "agent", november)["A3001"] == {
        "due": 2, "attempted": 2, "successful": 1, "successful_in_cooling_off": 1, "problem": 0}  # P6 now standard


def test_a_group_with_nothing_in_the_month_has_no_row(world: Session) -> None:
    november = Month.parse("2026-11")
    assert cases_before(world, "agent", november)["A4001"] == {  # the old statement's row of zeros
        "problem_cases": 0, "problem_cases_closed_in_sla": 0, "open_cases": 0, "overdue_cases": 0}
    assert "A4001" not in {r["key"] for r in kpi(world, november, "agent")["rows"]}
    assert "A4001" in {r["key"] for r in kpi(world, Month.parse("2026-09"), "agent")["rows"]}


@pytest.mark.parametrize("month", MONTHS)
def test_the_warnings_from_the_agent_report_are_the_warnings_read_alone(world: Session, month: str) -> None:
    settings = ReportSettings(agent_warning_success_rate=0.9, agent_warning_min_due=1)
    read_alone = agent_warnings(world, Month.parse(month), settings)
    given = agent_warnings(world, Month.parse(month), settings, kpi(world, Month.parse(month), "agent"))
    assert given == read_alone
    if month == "2026-11":
        assert [(a["agent_code"], a["due"], a["successful"]) for a in given["agents"]] == [
            ("A1001", 3, 2), ("A2001", 1, 0), ("A3001", 2, 1)]
    with pytest.raises(ValueError, match="by_agent is the report of 2026-11 by branch"):
        agent_warnings(world, Month.parse("2026-11"), settings, kpi(world, Month.parse("2026-11"), "branch"))
