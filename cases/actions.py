"""What a branch does with a case, and what follows (docs/domain.md §9.4, §9.8). Services flush; the caller
commits. Every action goes into the case's history with who did it and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ResultClass
from kit.calendar import BusinessCalendar
from kit.clock import isoformat_local
from kit.settings import Settings
from kit.vocab import OPEN_CASE_STATUSES, CaseStatus, ProductType, TaskStatus
from storage.models import Agent, CallbackTask, Case, Policy
from storage.repositories import cases as case_repo


class Action(StrEnum):
    PHONE_CORRECTED = "phone_corrected"  # policy service change done: the new number is called
    APPOINTMENT_SET = "appointment_set"  # the customer was reached and named a time
    EXPLAINED = "explained"  # explained, the customer signed the explanation form: a confirming callback follows
    MIS_SELLING_HANDLED = "mis_selling_handled"  # handled by non-sales staff, the statements recorded
    SURRENDERED = "surrendered"  # the policy was surrendered in the cooling-off period: nothing left to do
    OVERDUE_EXPLANATION = "overdue_explanation"  # 逾期情况书面说明, filed before the due time; the case stays open
    SIGNED_QUESTIONNAIRE = "signed_questionnaire"  # letter or visit callback done: the signed questionnaire is in


ALLOWED: dict[Action, frozenset[CaseType]] = {
    Action.PHONE_CORRECTED: frozenset({CaseType.VERIFICATION_CASE}),
    Action.APPOINTMENT_SET: frozenset({CaseType.VERIFICATION_CASE, CaseType.DIALECT_CASE,
                                       CaseType.IN_PERSON_VISIT_CASE}),
    Action.EXPLAINED: frozenset({CaseType.FIRST_EXPLANATION_CASE, CaseType.SECOND_EXPLANATION_CASE,
                                 CaseType.CONTRACT_QUALITY_CASE, CaseType.PROXY_SIGNATURE_CASE,
                                 CaseType.DIALECT_CASE}),
    Action.MIS_SELLING_HANDLED: frozenset({CaseType.MIS_SELLING_CASE}),
    Action.SIGNED_QUESTIONNAIRE: frozenset({CaseType.LETTER_CASE, CaseType.IN_PERSON_VISIT_CASE}),
    Action.SURRENDERED: frozenset(CaseType),
    Action.OVERDUE_EXPLANATION: frozenset(CaseType),
}


class ActionRefused(ValueError):
    """The action cannot be taken on this case; the message says why (and names the option to fix it)."""


class CallingRules(Protocol):
    """What the dialer owns and an action needs (given by the caller, so cases imports no dialer code)."""

    def normalize_phone(self, raw: str) -> str | None:
        """The number in E.164, or None when it cannot be dialled."""

    def phone_changed(self, session: Session, now: datetime) -> None:
        """Re-evaluate the phone holds: a corrected number releases them (and closes their cases)."""

    def book(self, task: CallbackTask, at: datetime, now: datetime) -> None:
        """Set the appointment; ValueError with the reason when the time is not allowed."""


@dataclass(frozen=True)
class Handling:
    action: Action
    who: str
    note: str = ""
    phone: str | None = None
    appointment_at: datetime | None = None
    told_rescission: bool = False  # health products: the customer was told of the right to rescind (§9.4)


def resolve(session: Session, case: Case, handling: Handling, *, now: datetime, settings: Settings,
            calendar: BusinessCalendar, rules: CallingRules) -> Case:
    action = handling.action
    if case.status not in OPEN_CASE_STATUSES:
        raise ActionRefused(f"case {case.id} is {case.status.value}: nothing more can be done with it")
    if case.type not in ALLOWED[action]:
        raise ActionRefused(f"{action.value} does not apply to a {case.type.value}")
    policy = session.get(Policy, case.policy_id)
    assert policy is not None
    task = session.get(CallbackTask, case.task_id) if case.task_id else None
    if action is Action.OVERDUE_EXPLANATION:
        _overdue_explanation(case, handling, now)
    elif action is Action.PHONE_CORRECTED:
        _phone_corrected(session, policy, task, handling, now=now, rules=rules)
    elif action is Action.APPOINTMENT_SET:
        _appointment(task, handling, now, rules)
    elif action is Action.EXPLAINED:
        _explained(case, task, now)
    elif action is Action.MIS_SELLING_HANDLED:
        _mis_selling(policy, handling)
    elif action is Action.SURRENDERED:
        _surrendered(session, policy, task, handling, now)
    elif action is Action.SIGNED_QUESTIONNAIRE:
        _signed_questionnaire(task, handling, now)
    if action is not Action.OVERDUE_EXPLANATION and case.status in OPEN_CASE_STATUSES:
        _close(case, CaseStatus.CANCELLED if action is Action.SURRENDERED else CaseStatus.CLOSED, handling, now)
    case_repo.add_events(session, [{"case_id": case.id, "at": now, "who": handling.who, "action": action.value,
                                    "note": handling.note}])
    session.flush()
    return case


def assign(session: Session, case: Case, to: str, *, who: str, now: datetime) -> Case:
    """A mis-selling case may not go to the policy's own agent (R1 Art.18: handled by non-sales staff)."""
    policy = session.get(Policy, case.policy_id)
    agent = session.get(Agent, policy.agent_id) if policy else None
    if case.type is CaseType.MIS_SELLING_CASE and agent is not None and to in (agent.code, agent.name):
        raise ActionRefused(f"a mis_selling_case may not be assigned to the policy's own agent ({agent.code})")
    case.assigned_to, case.updated_at = to, now
    if case.status is CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS
    case_repo.add_events(session, [{"case_id": case.id, "at": now, "who": who, "action": "assigned", "note": to}])
    session.flush()
    return case


def open_second_explanation(session: Session, task: CallbackTask, reasons: list[str], *, now: datetime,
                            settings: Settings, calendar: BusinessCalendar) -> None:
    """The confirming callback after an explanation failed or left the issue open (§14 rule 29)."""
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    detail = f"一次解释后的确认回访未成功或问题仍未解决（{'、'.join(reasons) or '未联系上'}），请再次沟通解释"
    open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, CaseType.SECOND_EXPLANATION_CASE,
                                 reasons[0] if reasons else "unreachable", detail)],
               now=now, settings=settings.cases, calendar=calendar)
    task.confirming_case_id = None


# -- the actions ----------------------------------------------------------------------------------


def _close(case: Case, status: CaseStatus, handling: Handling, now: datetime) -> None:
    case.status, case.closed_at, case.updated_at = status, now, now
    case.resolution_action, case.resolution_note = handling.action.value, handling.note


def _overdue_explanation(case: Case, handling: Handling, now: datetime) -> None:
    if now > case.due_at:
        raise ActionRefused(f"the overdue explanation must be filed before the due time ({isoformat_local(case.due_at)})")
    if not handling.note:
        raise ActionRefused("--note: the overdue explanation's text is required")
    case.overdue_explanation, case.overdue_explanation_at, case.updated_at = handling.note, now, now


def _reopen(task: CallbackTask, now: datetime) -> None:
    """Call the policy again: the task goes back to the queue (a completed one too)."""
    if task.status is TaskStatus.CANCELLED:
        raise ActionRefused("the callback task was cancelled: there is no one to call")
    task.status = TaskStatus.QUEUED if task.status is not TaskStatus.HELD else TaskStatus.HELD
    task.result_class, task.reason_codes, task.completed_at = None, [], None
    task.next_attempt_at, task.updated_at = None, now


def _phone_corrected(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling, *,
                     now: datetime, rules: CallingRules) -> None:
    if not handling.phone:
        raise ActionRefused("--phone: the corrected number is required")
    e164 = rules.normalize_phone(handling.phone)
    if e164 is None:
        raise ActionRefused(f"--phone: {handling.phone!r} is not a valid, diallable number")
    policy.applicant_phone, policy.applicant_phone_valid, policy.updated_at = e164, True, now
    if task is not None:
        _reopen(task, now)
    session.flush()
    rules.phone_changed(session, now)


def _appointment(task: CallbackTask | None, handling: Handling, now: datetime, rules: CallingRules) -> None:
    if task is None or handling.appointment_at is None:
        raise ActionRefused("--at: the agreed time is required (and the case must belong to a callback task)")
    _reopen(task, now)
    try:
        rules.book(task, handling.appointment_at, now)
    except ValueError as exc:
        raise ActionRefused(f"--at: {exc}") from None


def _explained(case: Case, task: CallbackTask | None, now: datetime) -> None:
    if task is None:
        raise ActionRefused("this case belongs to no callback task: no confirming callback can follow")
    _reopen(task, now)
    task.confirming_case_id = case.id


def _mis_selling(policy: Policy, handling: Handling) -> None:
    if not handling.note:
        raise ActionRefused("--note: the statements made to the customer must be recorded")
    if policy.product_type is ProductType.HEALTH and not handling.told_rescission:
        raise ActionRefused("--told-rescission: for a health product the customer must be told of the right to "
                            "rescind (docs/domain.md §9.4)")


def _surrendered(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling,
                 now: datetime) -> None:
    if task is not None:
        task.status, task.next_attempt_at, task.updated_at = TaskStatus.CANCELLED, None, now
    for other in case_repo.open_for_policy(session, policy.id):
        _close(other, CaseStatus.CANCELLED, handling, now)


def _signed_questionnaire(task: CallbackTask | None, handling: Handling, now: datetime) -> None:
    """A letter or in-person callback succeeds only with the applicant's signed questionnaire (§14 rule 20)."""
    if not handling.note:
        raise ActionRefused("--note: say which signed questionnaire or receipt was received")
    if task is not None and task.status is not TaskStatus.CANCELLED:
        task.status, task.result_class, task.completed_at, task.updated_at = (
            TaskStatus.COMPLETED, ResultClass.STANDARD, now, now)
        task.reason_codes, task.next_attempt_at = [], None
