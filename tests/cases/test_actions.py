"""A branch's handling of each case type and what follows (docs/domain.md §9.4, §9.8, §14 rule 29)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.actions import Action, ActionRefused, Handling, assign, resolve
from cases.service import NewCase, open_cases
from dialer.hours import CallingRules
from dialer.retry import close_unreachable
from flows.vocab import CaseType
from huifang.case_rules import CaseRules
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import ChannelSettings, Settings
from kit.vocab import CallbackChannel, CaseStatus, TaskStatus
from storage.models import Agent, CallbackTask, Case, Policy, TaskHold
from tests.factories import policy_row
from tests.intake.test_service import make

NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)
ACTOR = operator_actor("张经理")


class Desk:
    def __init__(self, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                 calendar: BusinessCalendar) -> None:
        self.session, self.settings, self.calendar = session, settings, calendar
        self.importer = make(session, tmp_path, settings, clock)

    def policy(self, **row: str) -> tuple[Policy, CallbackTask]:
        self.importer([policy_row(policy_no="A1", **row)])
        policy = self.session.scalars(select(Policy).where(Policy.policy_no == "A1")).one()
        task = self.session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        return policy, task

    def case(self, policy: Policy, task: CallbackTask, kind: CaseType, reason: str = "r") -> Case:
        open_cases(self.session, [NewCase(policy.id, task.id, policy.branch_id, kind, reason, "d")], now=NOW,
                   settings=self.settings.cases, calendar=self.calendar)
        return self.session.scalars(select(Case).where(Case.type == kind).order_by(Case.id.desc())).first()  # type: ignore[return-value]

    def do(self, case: Case, action: Action, now: datetime = NOW, **extra: object) -> Case:
        return resolve(self.session, ACTOR, case.id, Handling(action, **extra), now=now,  # type: ignore[arg-type]
                       settings=self.settings, calendar=self.calendar,
                       rules=CaseRules(self.settings, self.calendar)).case


@pytest.fixture
def desk(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock, calendar: BusinessCalendar) -> Desk:
    return Desk(session, tmp_path, settings, clock, calendar)


def test_a_corrected_phone_releases_the_hold_and_queues_the_callback(desk: Desk) -> None:
    policy, task = desk.policy(applicant_phone="12345")
    case = desk.session.scalars(select(Case)).one()
    assert (task.status, case.reason) == (TaskStatus.HELD, "wrong_number")
    with pytest.raises(ActionRefused, match="--phone: '999' is not a valid"):
        desk.do(case, Action.PHONE_CORRECTED, phone="999")
    desk.do(case, Action.PHONE_CORRECTED, phone="139 1234 5678", note="保全变更已完成")
    assert policy.applicant_phone == "+8613912345678"
    desk.session.expire_all()
    assert desk.session.get(CallbackTask, task.id).status is TaskStatus.QUEUED  # type: ignore[union-attr]
    assert desk.session.get(Case, case.id).status is CaseStatus.CLOSED  # type: ignore[union-attr]
    assert desk.session.scalars(select(TaskHold)).one().released_at is not None


def test_an_appointment_reopens_an_unreachable_task(desk: Desk) -> None:
    policy, task = desk.policy()
    rules = CallingRules.from_settings(desk.settings.dialer, desk.calendar)
    phone_only = dataclasses.replace(desk.settings, channels=ChannelSettings(sequence=(CallbackChannel.PHONE,)))
    close_unreachable(desk.session, task, 3, 2, now=NOW, settings=phone_only, rules=rules)
    case = desk.session.scalars(select(Case)).one()
    with pytest.raises(ActionRefused, match="--at: .* is in the night"):
        desk.do(case, Action.APPOINTMENT_SET, appointment_at=NOW + timedelta(hours=13))
    desk.do(case, Action.APPOINTMENT_SET, appointment_at=NOW + timedelta(days=1))
    assert (task.status, task.result_class, task.appointment_at) == (TaskStatus.QUEUED, None, NOW + timedelta(days=1))
    assert case.status is CaseStatus.CLOSED


def test_an_explanation_is_confirmed_by_a_second_callback_and_escalates_when_it_fails(desk: Desk) -> None:
    policy, task = desk.policy()
    task.status = TaskStatus.COMPLETED
    case = desk.case(policy, task, CaseType.FIRST_EXPLANATION_CASE, "unclear_coverage")
    desk.do(case, Action.EXPLAINED, note="已当面解释并签署解释单")
    assert (task.status, task.confirming_case_id) == (TaskStatus.QUEUED, case.id)
    rules = CallingRules.from_settings(desk.settings.dialer, desk.calendar)
    close_unreachable(desk.session, task, 3, 2, now=NOW + timedelta(days=3), settings=desk.settings, rules=rules)
    kinds = [c.type for c in desk.session.scalars(select(Case).order_by(Case.id))]
    assert kinds == [CaseType.FIRST_EXPLANATION_CASE, CaseType.SECOND_EXPLANATION_CASE]
    assert task.confirming_case_id is None


def test_mis_selling_needs_the_statements_and_never_goes_to_the_own_agent(desk: Desk) -> None:
    policy, task = desk.policy(product_type="health", guaranteed_renewal="Y", policy_term_years="1")
    case = desk.case(policy, task, CaseType.MIS_SELLING_CASE, "suspected_mis_selling")
    agent = desk.session.get(Agent, policy.agent_id)
    assert agent is not None
    with pytest.raises(ActionRefused, match="may not be assigned to the policy's own agent"):
        assign(desk.session, ACTOR, case.id, agent.code, now=NOW)
    assign(desk.session, ACTOR, case.id, "Q0001", now=NOW)
    assert (case.assigned_to, case.status) == ("Q0001", CaseStatus.IN_PROGRESS)
    with pytest.raises(ActionRefused, match="--note: the statements"):
        desk.do(case, Action.MIS_SELLING_HANDLED)
    with pytest.raises(ActionRefused, match="--told-rescission"):
        desk.do(case, Action.MIS_SELLING_HANDLED, note="已向客户说明产品为保险")
    desk.do(case, Action.MIS_SELLING_HANDLED, note="已向客户说明产品为保险", told_rescission=True)
    assert (case.status, case.resolution_note) == (CaseStatus.CLOSED, "已向客户说明产品为保险")


def test_a_surrender_cancels_the_task_and_every_open_case(desk: Desk) -> None:
    policy, task = desk.policy()
    one = desk.case(policy, task, CaseType.FIRST_EXPLANATION_CASE)
    two = desk.case(policy, task, CaseType.PROXY_SIGNATURE_CASE)
    desk.do(one, Action.SURRENDERED, note="犹豫期内退保")
    assert task.status is TaskStatus.CANCELLED
    assert (one.status, two.status) == (CaseStatus.CANCELLED, CaseStatus.CANCELLED)
    with pytest.raises(ActionRefused, match="is cancelled: nothing more"):
        desk.do(two, Action.EXPLAINED)


def test_an_overdue_explanation_only_before_the_due_time(desk: Desk) -> None:
    policy, task = desk.policy()
    case = desk.case(policy, task, CaseType.DIALECT_CASE)
    desk.do(case, Action.OVERDUE_EXPLANATION, now=NOW + timedelta(days=6), note="客户出差，约定下周回访")
    assert case.overdue_explanation == "客户出差，约定下周回访"
    assert case.status is CaseStatus.OPEN
    with pytest.raises(ActionRefused, match="before the due time"):
        desk.do(case, Action.OVERDUE_EXPLANATION, now=NOW + timedelta(days=8), note="晚了")
    from storage.models import CaseEvent

    history = desk.session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    assert list(history) == ["opened", "overdue_explanation"]


def test_an_action_that_does_not_fit_the_case_type_is_refused(desk: Desk) -> None:
    policy, task = desk.policy()
    case = desk.case(policy, task, CaseType.PROXY_SIGNATURE_CASE)
    with pytest.raises(ActionRefused, match="phone_corrected does not apply to a proxy_signature_case"):
        desk.do(case, Action.PHONE_CORRECTED, phone="13912345678")


def test_a_letter_or_visit_callback_ends_with_the_signed_questionnaire(desk: Desk) -> None:
    from flows.vocab import ResultClass

    policy, task = desk.policy()
    case = desk.case(policy, task, CaseType.LETTER_CASE)
    with pytest.raises(ActionRefused, match="--note"):
        desk.do(case, Action.SIGNED_QUESTIONNAIRE)
    desk.do(case, Action.SIGNED_QUESTIONNAIRE, note="信函回访问卷已签收 2026-11-24")
    assert (task.status, task.result_class, case.status) == (TaskStatus.COMPLETED, ResultClass.STANDARD,
                                                            CaseStatus.CLOSED)


def test_a_visit_names_its_visitor_who_is_never_the_policys_own_agent(desk: Desk) -> None:
    """§14 rule 45: the same rule as a mis-selling case's assignment (cases.actions.is_own_agent)."""
    from cases.outcomes import Refusal
    from storage.models import CaseEvent

    policy, task = desk.policy()
    case = desk.case(policy, task, CaseType.IN_PERSON_VISIT_CASE)
    agent = desk.session.get(Agent, policy.agent_id)
    assert agent is not None
    with pytest.raises(ActionRefused, match="--visitor: name who made") as missing:
        desk.do(case, Action.SIGNED_QUESTIONNAIRE, note="上门回访问卷已签字")
    assert (missing.value.code, missing.value.field) == (Refusal.VISITOR_REQUIRED, "visitor")
    for who in (agent.code, f" {agent.name} "):
        with pytest.raises(ActionRefused, match=r"may not be made by the policy's own agent \(A1001\): callback "
                                                r"staff are never the sales agent \(§14 rule 45\)") as refused:
            desk.do(case, Action.SIGNED_QUESTIONNAIRE, note="上门回访问卷已签字", visitor=who)
        assert (refused.value.code, refused.value.params) == (Refusal.VISITOR_IS_AGENT, {"agent": "A1001"})
    assert (task.status, case.status) == (TaskStatus.QUEUED, CaseStatus.OPEN)  # refused: nothing changed
    desk.do(case, Action.SIGNED_QUESTIONNAIRE, note="上门回访问卷已签字", visitor="李访")
    assert (task.status, case.status) == (TaskStatus.COMPLETED, CaseStatus.CLOSED)
    last = desk.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()[-1]
    assert (last.action, last.note) == ("signed_questionnaire", "visitor 李访; 上门回访问卷已签字")


@pytest.mark.parametrize("kind", list(CaseType))
def test_every_case_type_has_its_due_time(desk: Desk, kind: CaseType) -> None:
    rule = desk.settings.cases.sla[kind]
    policy, task = desk.policy()
    case = desk.case(policy, task, kind)
    if rule.day_type.value == "natural":
        assert case.due_at == NOW + timedelta(days=rule.days)
    else:  # working days on the business calendar, same time of day
        day = desk.calendar.add_working_days(NOW.date(), rule.days)
        assert case.due_at.astimezone(BUSINESS_TZ) == NOW.replace(year=day.year, month=day.month, day=day.day)
