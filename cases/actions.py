"""What a branch does with a case, and what follows (docs/domain.md §9.4, §9.8). One function per operation
for every front door (CLI, console, API): it loads the case through the actor's scope, checks the actor may
act and that the form is not stale, runs inside a savepoint (a refused action changes nothing, even when the
caller goes on and commits), and returns what it did. Services flush; the caller commits. Every action goes
into the case's history with who did it and when."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from accounts.service import by_name
from cases.outcomes import ActionRefused, CaseNotFound, Effect, EffectCode, Outcome, Refusal, StaleCase
from cases.service import NewCase, close_case, open_cases
from flows.vocab import CaseType, ResultClass
from kit.actor import CASE_DISPATCHERS, CASE_HANDLERS, Actor, NotAllowed, Role
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
    visitor: str | None = None  # an in-person visit's signed questionnaire: who made the visit (never the agent)
    session_sid: str | None = None  # the answers recorded as an off-phone session: its classification decides the task


@dataclass
class BulkOutcome:
    """What a bulk assignment did: the cases assigned, and each case refused with the reason."""

    assigned: list[Outcome] = field(default_factory=list)
    refused: list[tuple[int, ActionRefused | CaseNotFound]] = field(default_factory=list)


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
    actor = actor.acting_as(CASE_HANDLERS, "handle cases")  # in the branches they handle, not all they read
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
        raise ActionRefused(f"the case is {case.status.value}: nothing more can be done with it",
                            Refusal.CASE_NOT_OPEN, case_status=case.status.value)
    if case.type not in ALLOWED[action]:
        raise ActionRefused(f"{action.value} does not apply to a {case.type.value}", Refusal.NOT_APPLICABLE,
                            field="action", action=action.value, case_type=case.type.value)
    policy = session.get(Policy, case.policy_id)
    assert policy is not None
    task = session.get(CallbackTask, case.task_id, with_for_update=True) if case.task_id else None
    note = handling.note
    if action is Action.OVERDUE_EXPLANATION:
        _overdue_explanation(case, handling, now)
        outcome.add(EffectCode.EXPLANATION_FILED, "overdue explanation filed; the case stays open")
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
        if case.type is CaseType.IN_PERSON_VISIT_CASE:
            visitor = _visitor(session, policy, handling)
            note = f"visitor {visitor}" + (f"; {handling.note}" if handling.note else "")
        if handling.session_sid is None:  # else the session's own classification has decided the task
            _signed_questionnaire(task, handling, outcome, now)
        elif not handling.note:
            raise ActionRefused("--note: say which signed questionnaire or receipt was received",
                                Refusal.QUESTIONNAIRE_REQUIRED, field="note")
    if action is not Action.OVERDUE_EXPLANATION:
        if case.status in OPEN_CASE_STATUSES:
            _close(session, case, CaseStatus.CANCELLED if action is Action.SURRENDERED else CaseStatus.CLOSED, handling,
                   now)
        outcome.add(EffectCode.CASE_STATUS, f"case {case.status.value}", case_status=case.status.value)
    case.updated_at = now
    case_repo.add_events(session, [{"case_id": case.id, "at": now, "who": actor.user, "action": action.value,
                                    "note": note}])


def assign(session: Session, actor: Actor, case_id: int, to: str, *, now: datetime,
           expected_version: int | None = None) -> Outcome:
    """Give a case to someone. A branch user gives it to a branch user of the case's branch (an enabled console
    account: the name the queue's `assignee=me` finds); head office (supervisors, the operator) to anyone,
    a staff code too. A mis-selling case may not go to the policy's own agent (R1 Art.18: non-sales staff)."""
    actor = actor.acting_as(CASE_HANDLERS, "assign cases")  # in the branches they handle, not all they read
    to = _assignee(to)
    case, code = load(session, actor, case_id, expected_version)
    with _concurrent_change(case_id), session.begin_nested():
        _assign(session, actor, case, code, to, now)
        session.flush()
    outcome = Outcome(case, code)
    outcome.add(EffectCode.ASSIGNED, f"assigned to {to}", to=to)
    return outcome


def assign_many(session: Session, actor: Actor, cases: Sequence[tuple[int, int | None]], to: str, *,
                now: datetime) -> BulkOutcome:
    """Head office gives several cases (id, the version the list showed) to one person. Each case is assigned
    on its own (`assign`, in its own savepoint): a stale or refused one is reported and the others go ahead."""
    actor.require(CASE_DISPATCHERS, "assign cases in bulk")
    to = _assignee(to)
    result = BulkOutcome()
    for case_id, version in cases:
        try:
            result.assigned.append(assign(session, actor, case_id, to, now=now, expected_version=version))
        except (ActionRefused, CaseNotFound) as exc:
            result.refused.append((case_id, exc))
    return result


def _assignee(to: str) -> str:
    to = to.strip()
    if not to:
        raise ActionRefused("--to: say who handles the case (a staff code or name)", Refusal.ASSIGNEE_REQUIRED,
                            field="to")
    return to


def _assign(session: Session, actor: Actor, case: Case, branch_code: str, to: str, now: datetime) -> None:
    if case.status not in OPEN_CASE_STATUSES:
        raise ActionRefused(f"the case is {case.status.value}: it cannot be assigned", Refusal.CASE_NOT_OPEN,
                            case_status=case.status.value)
    if actor.branch_codes is not None:  # a branch user: within the branch
        user = by_name(session, to)
        if (user is None or user.disabled or Role.BRANCH.value not in user.roles
                or branch_code not in user.branches):
            raise ActionRefused(f"--to: {to} is not a case handler of branch {branch_code} (a branch user assigns "
                                "within the branch)", Refusal.OUTSIDE_BRANCH, field="to", to=to, branch=branch_code)
    policy = session.get(Policy, case.policy_id)
    agent = session.get(Agent, policy.agent_id) if policy else None
    if case.type is CaseType.MIS_SELLING_CASE and is_own_agent(agent, to):
        assert agent is not None
        raise ActionRefused(f"a mis_selling_case may not be assigned to the policy's own agent ({agent.code})",
                            Refusal.OWN_AGENT, field="to", agent=agent.code)
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


def _close(session: Session, case: Case, status: CaseStatus, handling: Handling, now: datetime) -> None:
    close_case(session, case, status, now=now, action=handling.action.value, note=handling.note)


def _overdue_explanation(case: Case, handling: Handling, now: datetime) -> None:
    if now > case.due_at:
        raise ActionRefused(f"the overdue explanation must be filed before the due time ({isoformat_local(case.due_at)})",
                            Refusal.EXPLANATION_TOO_LATE, due=case.due_at)
    if not handling.note:
        raise ActionRefused("--note: the overdue explanation's text is required", Refusal.EXPLANATION_TEXT_REQUIRED,
                            field="note")
    case.overdue_explanation, case.overdue_explanation_at, case.updated_at = handling.note, now, now


def _reopen(task: CallbackTask, now: datetime) -> None:
    """Call the policy again: the task goes back to the queue (a completed one too; a held one stays held).
    Refused while its call is being dialled or under way: the customer is never dialled twice."""
    if task.status is TaskStatus.CANCELLED:
        raise ActionRefused("the callback task was cancelled: there is no one to call", Refusal.TASK_CANCELLED)
    _not_under_way(task)
    try:
        apply(task, TaskEvent.REOPEN, now)
    except IllegalTransition as exc:
        raise ActionRefused(str(exc), Refusal.TASK_STATE, task_status=task.status.value) from None


def _not_under_way(task: CallbackTask) -> None:
    if task.status in (TaskStatus.DIALING, TaskStatus.IN_PROGRESS):
        raise ActionRefused(f"the callback is {task.status.value.replace('_', ' ')} right now: try again when the "
                            "call has ended", Refusal.CALL_UNDER_WAY, task_status=task.status.value)


def _phone_corrected(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling,
                     outcome: Outcome, *, now: datetime, rules: CallingRules) -> None:
    if not handling.phone:
        raise ActionRefused("--phone: the corrected number is required", Refusal.PHONE_REQUIRED, field="phone")
    e164 = rules.normalize_phone(handling.phone)
    if e164 is None:
        raise ActionRefused(f"--phone: {handling.phone!r} is not a valid, diallable number", Refusal.PHONE_INVALID,
                            field="phone", phone=handling.phone)
    if task is not None:
        _reopen(task, now)
    outcome.add(EffectCode.PHONE_CHANGED, f"phone {policy.applicant_phone} → {e164}", old=policy.applicant_phone,
                new=e164)
    policy.applicant_phone, policy.applicant_phone_valid, policy.updated_at = e164, True, now
    session.flush()
    rules.phone_changed(session, now)
    if task is not None:
        if task.status is TaskStatus.QUEUED:
            outcome.add(EffectCode.CALLBACK_QUEUED, "callback queued again")
        else:
            outcome.add(EffectCode.CALLBACK_STILL_HELD, "callback still held: the number has another problem "
                                                        "(see its hold)")


def _appointment(task: CallbackTask | None, handling: Handling, outcome: Outcome, now: datetime,
                 rules: CallingRules) -> None:
    if task is None or handling.appointment_at is None:
        raise ActionRefused("--at: the agreed time is required (and the case must belong to a callback task)",
                            Refusal.TIME_REQUIRED if task is not None else Refusal.NO_TASK, field="at")
    _reopen(task, now)
    try:
        rules.book(task, handling.appointment_at, now)
    except ValueError as exc:
        raise ActionRefused(f"--at: {exc}", Refusal.TIME_REFUSED, field="at", at=handling.appointment_at,
                            why=getattr(exc, "code", "")) from None
    outcome.add(EffectCode.APPOINTMENT_BOOKED, f"appointment booked for {isoformat_local(handling.appointment_at)}",
                at=handling.appointment_at)


def _explained(case: Case, task: CallbackTask | None, outcome: Outcome, now: datetime) -> None:
    if task is None:
        raise ActionRefused("this case belongs to no callback task: no confirming callback can follow",
                            Refusal.NO_TASK, field="action")
    _reopen(task, now)
    task.confirming_case_id = case.id
    if task.status is TaskStatus.QUEUED:
        outcome.add(EffectCode.CONFIRMING_QUEUED, "confirming callback queued")
    else:
        outcome.add(EffectCode.CONFIRMING_WAITS, "confirming callback waits for the phone hold to be released")


def _mis_selling(policy: Policy, handling: Handling) -> None:
    if not handling.note:
        raise ActionRefused("--note: the statements made to the customer must be recorded",
                            Refusal.STATEMENTS_REQUIRED, field="note")
    if policy.product_type is ProductType.HEALTH and not handling.told_rescission:
        raise ActionRefused("--told-rescission: for a health product the customer must be told of the right to "
                            "rescind the contract within the cooling-off period", Refusal.RESCISSION_NOT_TOLD, field="told_rescission")


def _surrendered(session: Session, policy: Policy, task: CallbackTask | None, handling: Handling,
                 outcome: Outcome, now: datetime) -> None:
    if task is not None and task.status is not TaskStatus.CANCELLED:
        apply(task, TaskEvent.CANCEL, now)
        outcome.add(EffectCode.CALLBACK_CANCELLED, "callback cancelled")
    others = case_repo.open_for_policy(session, policy.id)
    for other in others:
        _close(session, other, CaseStatus.CANCELLED, handling, now)
    if len(others) > 1:
        outcome.add(EffectCode.OTHER_CASES_CANCELLED, f"{len(others) - 1} other open case(s) of the policy cancelled",
                    count=len(others) - 1)


def is_own_agent(agent: Agent | None, who: str) -> bool:
    """Whether `who` (a staff code or name) is the policy's own sales agent: callback staff must not be — a
    mis-selling case is not handled by them, an in-person visit not made by them (§14 rule 45; R10, R1 Art.18)."""
    return agent is not None and who.strip() in (agent.code, agent.name)


def _visitor(session: Session, policy: Policy, handling: Handling) -> str:
    """Who made the in-person visit: named, and not the policy's own agent (who may come along, not conduct it)."""
    visitor = (handling.visitor or "").strip()
    if not visitor:
        raise ActionRefused("--visitor: name who made the in-person visit (a staff code or name)",
                            Refusal.VISITOR_REQUIRED, field="visitor")
    agent = session.get(Agent, policy.agent_id)
    if is_own_agent(agent, visitor):
        assert agent is not None
        raise ActionRefused(f"--visitor: the in-person visit may not be made by the policy's own agent "
                            f"({agent.code}): callback staff are never the sales agent (§14 rule 45)",
                            Refusal.VISITOR_IS_AGENT, field="visitor", agent=agent.code)
    return visitor


def _signed_questionnaire(task: CallbackTask | None, handling: Handling, outcome: Outcome, now: datetime) -> None:
    """A letter or in-person callback succeeds only with the applicant's signed questionnaire (§14 rule 20)."""
    if not handling.note:
        raise ActionRefused("--note: say which signed questionnaire or receipt was received",
                            Refusal.QUESTIONNAIRE_REQUIRED, field="note")
    if task is not None and task.status is not TaskStatus.CANCELLED:
        _not_under_way(task)
        apply(task, TaskEvent.COMPLETE, now, result_class=ResultClass.STANDARD)
        outcome.add(EffectCode.CALLBACK_COMPLETED, "callback completed: standard")


__all__ = ["Action", "ActionRefused", "BulkOutcome", "CaseNotFound", "Effect", "EffectCode", "Handling",
           "NotAllowed", "Outcome", "Refusal", "StaleCase", "assign", "assign_many", "is_own_agent", "load", "resolve"]
