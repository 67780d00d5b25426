"""What a branch does with a case, and what follows (docs/domain.md §9.4, §9.8). One function per operation
for every front door (CLI, console, API): it loads the case through the actor's scope, checks the actor may
act and that the form is not stale, runs inside a savepoint (a refused action changes nothing, even when the
caller goes on and commits), and returns what it did. Services flush; the caller commits. Every action goes
into the case's history with who did it and when."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ResultClass
from kit.actor import CASE_HANDLERS, Actor, NotAllowed
from kit.calendar import BusinessCalendar
from kit.clock import isoformat_local
from kit.settings import Settings
from kit.vocab import OPEN_CASE_STATUSES, CaseStatus, ProductType, TaskStatus
from storage.models import Agent, CallbackTask, Case, Policy
from storage.repositories import cases as case_repo
from tasks.lifecycle import IllegalTransition, TaskEvent, apply


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


class CaseNotFound(LookupError):
    """No such case in the actor's view (the same answer whether it does not exist or is another branch's)."""


class StaleCase(ActionRefused):
    """The case changed since the form was shown: someone else acted on it."""


class CallingRules(Protocol):
    """What intake and the dialer own and an action needs (given by the caller: cases imports neither)."""

    def normalize_phone(self, raw: str) -> str | None:
        """The number in E.164, or None when it cannot be dialled."""

    def phone_changed(self, session: Session, now: datetime) -> None:
        """Re-evaluate the phone holds: a corrected number releases them (and closes their cases)."""

    def book(self, task: CallbackTask, at: datetime, now: datetime) -> None:
        """Set the appointment; ValueError with the reason when the time is not allowed."""


@dataclass(frozen=True)
class Handling:
    action: Action
    note: str = ""
    phone: str | None = None
    appointment_at: datetime | None = None
    told_rescission: bool = False  # health products: the customer was told of the right to rescind (§9.4)


@dataclass
class Outcome:
    """What an action did: the case as it is now, and its effects in words (for the CLI, console and API)."""

    case: Case
    branch_code: str
    effects: list[str] = field(default_factory=list)


def load(session: Session, actor: Actor, case_id: int, expected_version: int | None = None) -> tuple[Case, str]:
    """The case (through the actor's scope), checked against the version the form was built from."""
    row = case_repo.get(session, actor, case_id)
    if row is None:
        raise CaseNotFound(f"no case {case_id}")
    case, code = row
    if expected_version is not None and case.version_id != expected_version:
        raise StaleCase(f"case {case_id} was changed by someone else since you opened it "
                        f"(version {expected_version}, now {case.version_id}): reload it and try again")
    return case, code


def resolve(session: Session, actor: Actor, case_id: int, handling: Handling, *, now: datetime,
            settings: Settings, calendar: BusinessCalendar, rules: CallingRules,
            expected_version: int | None = None) -> Outcome:
    actor.require(CASE_HANDLERS, "handle cases")
    case, code = load(session, actor, case_id, expected_version)
    outcome = Outcome(case, code)
    with _concurrent_change(case_id), session.begin_nested():  # all of the action or none of it
        _resolve(session, actor, case, handling, outcome, now=now, settings=settings, rules=rules)
        session.flush()
    return outcome


@contextmanager
def _concurrent_change(case_id: int) -> Iterator[None]:
    """A write that found the row changed since it was read (optimistic locking) is a stale case."""
    try:
        yield
    except StaleDataError:
        raise StaleCase(f"case {case_id} was changed by someone else at the same time: reload it and try again") \
            from None


def _resolve(session: Session, actor: Actor, case: Case, handling: Handling, outcome: Outcome, *,
             now: datetime, settings: Settings, rules: CallingRules) -> None:
    action = handling.action
    if case.status not in OPEN_CASE_STATUSES:
        raise ActionRefused(f"the case is {case.status.value}: nothing more can be done with it")
    if case.type not in ALLOWED[action]:
        raise ActionRefused(f"{action.value} does not apply to a {case.type.value}")
    policy = session.get(Policy, case.policy_id)
    assert policy is not None
    task = session.get(CallbackTask, case.task_id, with_for_update=True) if case.task_id else None
    note = handling.note
    if action is Action.OVERDUE_EXPLANATION:
        _overdue_explanation(case, handling, now)
        outcome.effects.append("overdue explanation filed; the case stays open")
    elif action is Action.PHONE_CORRECTED:
        old = policy.applicant_phone
        _phone_corrected(session, policy, task, handling, outcome, now=now, rules=rules)
        note = f"{old} → {policy.applicant_phone}" + (f"; {handling.note}" if handling.note else "")
    elif action is Action.APPOINTMENT_SET:
        _appointment(task, handling, outcome, now, rules)
    elif action is Action.EXPLAINED:
        _explained(case, task, outcome, now)
    elif action is Action.MIS_SELLING_HANDLED:
        _mis_selling(policy, handling)
    elif action is Action.SURRENDERED:
        _surrendered(session, policy, task, handling, outcome, now)
    elif action is Action.SIGNED_QUESTIONNAIRE:
        _signed_questionnaire(task, handling, outcome, now)
    if action is not Action.OVERDUE_EXPLANATION:
        if case.status in OPEN_CASE_STATUSES:
            _close(case, CaseStatus.CANCELLED if action is Action.SURRENDERED else CaseStatus.CLOSED, handling, now)
        outcome.effects.append(f"case {case.status.value}")
    case.updated_at = now
    case_repo.add_events(session, [{"case_id": case.id, "at": now, "who": actor.user, "action": action.value,
                                    "note": note}])


def assign(session: Session, actor: Actor, case_id: int, to: str, *, now: datetime,
           expected_version: int | None = None) -> Outcome:
    """A mis-selling case may not go to the policy's own agent (R1 Art.18: handled by non-sales staff)."""
    actor.require(CASE_HANDLERS, "assign cases")
    to = to.strip()
    if not to:
        raise ActionRefused("--to: say who handles the case (a staff code or name)")
    case, code = load(session, actor, case_id, expected_version)
    with _concurrent_change(case_id), session.begin_nested():
        _assign(session, actor, case, to, now)
        session.flush()
    return Outcome(case, code, [f"assigned to {to}"])


def _assign(session: Session, actor: Actor, case: Case, to: str, now: datetime) -> None:
    if case.status not in OPEN_CASE_STATUSES:
        raise ActionRefused(f"the case is {case.status.value}: it cannot be assigned")
    policy = session.get(Policy, case.policy_id)
    agent = session.get(Agent, policy.agent_id) if policy else None
    if case.type is CaseType.MIS_SELLING_CASE and agent is not None and to in (agent.code, agent.name):
        raise ActionRefused(f"a mis_selling_case may not be assigned to the policy's own agent ({agent.code})")
    case.assigned_to, case.updated_at = to, now
    if case.status is CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS
    case_repo.add_events(session, [{"case_id": case.id, "at": now, "who": actor.user, "action": "assigned",
                                    "note": to}])


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
    """Call the policy again: the task goes back to the queue (a completed one too; a held one stays held).
    Refused while its call is being dialled or under way: the customer is never dialled twice."""
    if task.status is TaskStatus.CANCELLED:
        raise ActionRefused("the callback task was cancelled: there is no one to call")
    if task.status in (TaskStatus.DIALING, TaskStatus.IN_PROGRESS):
        raise ActionRefused(f"the callback is {task.status.value.replace('_', ' ')} right now: try again when the "
                            "call has ended")
    try:
        apply(task, TaskEvent.REOPEN, now)
    except IllegalTransition as exc:
        raise ActionRefused(str(exc)) from None


def _phone_corrected(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling,
                     outcome: Outcome, *, now: datetime, rules: CallingRules) -> None:
    if not handling.phone:
        raise ActionRefused("--phone: the corrected number is required")
    e164 = rules.normalize_phone(handling.phone)
    if e164 is None:
        raise ActionRefused(f"--phone: {handling.phone!r} is not a valid, diallable number")
    if task is not None:
        _reopen(task, now)
    outcome.effects.append(f"phone {policy.applicant_phone} → {e164}")
    policy.applicant_phone, policy.applicant_phone_valid, policy.updated_at = e164, True, now
    session.flush()
    rules.phone_changed(session, now)
    if task is not None:
        outcome.effects.append("callback queued again" if task.status is TaskStatus.QUEUED
                               else "callback still held: the number has another problem (see its hold)")


def _appointment(task: CallbackTask | None, handling: Handling, outcome: Outcome, now: datetime,
                 rules: CallingRules) -> None:
    if task is None or handling.appointment_at is None:
        raise ActionRefused("--at: the agreed time is required (and the case must belong to a callback task)")
    _reopen(task, now)
    try:
        rules.book(task, handling.appointment_at, now)
    except ValueError as exc:
        raise ActionRefused(f"--at: {exc}") from None
    outcome.effects.append(f"appointment booked for {isoformat_local(handling.appointment_at)}")


def _explained(case: Case, task: CallbackTask | None, outcome: Outcome, now: datetime) -> None:
    if task is None:
        raise ActionRefused("this case belongs to no callback task: no confirming callback can follow")
    _reopen(task, now)
    task.confirming_case_id = case.id
    outcome.effects.append("confirming callback queued" if task.status is TaskStatus.QUEUED
                           else "confirming callback waits for the phone hold to be released")


def _mis_selling(policy: Policy, handling: Handling) -> None:
    if not handling.note:
        raise ActionRefused("--note: the statements made to the customer must be recorded")
    if policy.product_type is ProductType.HEALTH and not handling.told_rescission:
        raise ActionRefused("--told-rescission: for a health product the customer must be told of the right to "
                            "rescind (docs/domain.md §9.4)")


def _surrendered(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling,
                 outcome: Outcome, now: datetime) -> None:
    if task is not None and task.status is not TaskStatus.CANCELLED:
        apply(task, TaskEvent.CANCEL, now)
        outcome.effects.append("callback cancelled")
    others = case_repo.open_for_policy(session, policy.id)
    for other in others:
        _close(other, CaseStatus.CANCELLED, handling, now)
    if len(others) > 1:
        outcome.effects.append(f"{len(others) - 1} other open case(s) of the policy cancelled")


def _signed_questionnaire(task: CallbackTask | None, handling: Handling, outcome: Outcome, now: datetime) -> None:
    """A letter or in-person callback succeeds only with the applicant's signed questionnaire (§14 rule 20)."""
    if not handling.note:
        raise ActionRefused("--note: say which signed questionnaire or receipt was received")
    if task is not None and task.status is not TaskStatus.CANCELLED:
        if task.status in (TaskStatus.DIALING, TaskStatus.IN_PROGRESS):
            raise ActionRefused(f"the callback is {task.status.value.replace('_', ' ')} right now: try again when "
                                "the call has ended")
        apply(task, TaskEvent.COMPLETE, now, result_class=ResultClass.STANDARD)
        outcome.effects.append("callback completed: standard")


__all__ = ["Action", "ActionRefused", "CaseNotFound", "Handling", "NotAllowed", "Outcome", "StaleCase", "assign",
           "load", "resolve"]
