"""Moving a callback task to another channel: by the rules when a channel is used up (the dialer, the
e-callback's expiry) and by hand (a branch handler's decision, the applicant's choice). One function for every
front door (the console's case desk, `huifang tasks channel`, the phone robot's "send me a link"). Services
flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from cases.service import NewCase, open_cases
from channels.sequence import CASE_FOR, CHANNEL_ZH, next_channel
from flows.vocab import CaseType, ReasonCode, ResultClass
from kit.actor import CASE_HANDLERS, SYSTEM, Actor
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from kit.vocab import CallbackChannel, TaskStatus
from recordings.audit import audit
from storage.models import Branch, CallbackTask, Policy
from storage.repositories import calls as call_repo
from tasks.lifecycle import TaskEvent, apply

SUCCEEDED = (ResultClass.STANDARD, ResultClass.SUB_STANDARD)


class Refusal(StrEnum):
    """Why a move was refused, for a front door that says it in its own words (the console, in Chinese)."""

    OUT_OF_SCOPE = "out_of_scope"
    REASON_REQUIRED = "reason_required"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"  # result_class
    CALL_UNDER_WAY = "call_under_way"


class ChannelRefused(ValueError):
    """The move is not allowed; the message says why and names the rule, `code` says it for translation."""

    def __init__(self, message: str, code: Refusal, **params: object) -> None:
        super().__init__(message)
        self.code, self.params = code, params


@dataclass(frozen=True)
class Moved:
    task_id: int
    policy_no: str
    before: CallbackChannel
    after: CallbackChannel
    case_id: int | None  # the letter or visit case opened for it
    changed: bool  # False: the task was on that channel already (the same request again changes nothing)


def tried_channels(session: Session, task: CallbackTask) -> set[CallbackChannel]:
    """The channels this callback has run a questionnaire on, and the one it is on now."""
    return {task.channel, *(call.channel for call in call_repo.for_task(session, task.id))}


def move(session: Session, task: CallbackTask, to: CallbackChannel, *, actor: Actor, reason: str, now: datetime,
         settings: Settings, calendar: BusinessCalendar, detail: str = "") -> Moved:
    """Put the callback on `to`. A finished callback that did not succeed is reopened (its result cleared); a
    successful or cancelled one is refused. Phone: the dialer calls at its next tick. E-callback: the link is
    sent by the e-callback job. Letter and visit: the branch gets the work order. Audited with who and why."""
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    actor = actor.acting_as(CASE_HANDLERS, "move a callback to another channel")
    branch = session.get(Branch, policy.branch_id)
    if branch is None or not actor.sees_branch(branch.code):
        raise ChannelRefused(f"policy {policy.policy_no} is not in {actor.user}'s branches", Refusal.OUT_OF_SCOPE)
    if not reason.strip():
        raise ChannelRefused("--reason: say why the callback moves to another channel (it is audited)",
                             Refusal.REASON_REQUIRED)
    if task.status is TaskStatus.CANCELLED:
        raise ChannelRefused(f"policy {policy.policy_no}: the callback is cancelled; it cannot move to {to}",
                             Refusal.CANCELLED)
    if task.status is TaskStatus.COMPLETED and task.result_class in SUCCEEDED:
        raise ChannelRefused(f"policy {policy.policy_no}: the callback already succeeded ({task.result_class}); "
                             "nothing is left to do on another channel", Refusal.SUCCEEDED,
                             result_class=task.result_class)
    if task.status in (TaskStatus.DIALING, TaskStatus.IN_PROGRESS):
        raise ChannelRefused(f"policy {policy.policy_no}: a call is under way; move the callback when it has ended",
                             Refusal.CALL_UNDER_WAY)
    before = task.channel
    if before is to:
        return Moved(task.id, policy.policy_no, before, to, None, changed=False)
    if task.status is TaskStatus.COMPLETED:
        apply(task, TaskEvent.REOPEN, now)
    task.channel, task.updated_at = to, now
    case_id = _open_work_order(session, task, policy, to, now=now, settings=settings, calendar=calendar,
                               detail=detail or reason)
    audit(session, actor=actor, action="channel", target=f"policy {policy.policy_no}", now=now, reason=reason,
          detail=f"{before} → {to}")
    session.flush()
    return Moved(task.id, policy.policy_no, before, to, case_id, changed=True)


def _open_work_order(session: Session, task: CallbackTask, policy: Policy, to: CallbackChannel, *, now: datetime,
                     settings: Settings, calendar: BusinessCalendar, detail: str) -> int | None:
    case_type = CASE_FOR.get(to)
    if case_type is None:
        return None
    existing = [c for c in call_repo.open_cases_of_task(session, task.id) if c.type is case_type]
    if existing:
        return existing[0].id
    text = f"转{CHANNEL_ZH[to]}：{detail}"
    open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, case_type, "unreachable", text)],
               now=now, settings=settings.cases, calendar=calendar)
    opened = [c for c in call_repo.open_cases_of_task(session, task.id) if c.type is case_type]
    return opened[-1].id if opened else None


def fall_through(session: Session, task: CallbackTask, *, now: datetime, settings: Settings,
                 calendar: BusinessCalendar, why: str) -> CallbackChannel | None:
    """The callback's current channel is used up (the phone attempts, an e-callback link left unanswered): put
    it on the next channel of `channels.sequence` not tried yet, and say which; None when none is left (the
    caller then closes the callback as unreachable). E-callback: the task waits, queued, for its link. Letter
    and visit: the callback is closed as unreachable (核实件) and the branch gets the work order whose signed
    questionnaire completes it."""
    nxt = next_channel(settings.channels.sequence, task.channel, tried_channels(session, task))
    if nxt is None:
        return None
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    before = task.channel
    task.channel, task.updated_at = nxt, now
    if nxt in CASE_FOR:
        apply(task, TaskEvent.COMPLETE, now, result_class=ResultClass.VERIFICATION,
              reason_codes=[ReasonCode.UNREACHABLE.value])
        _open_work_order(session, task, policy, nxt, now=now, settings=settings, calendar=calendar, detail=why)
    elif task.status is not TaskStatus.QUEUED:
        apply(task, TaskEvent.RETRY if task.status is not TaskStatus.COMPLETED else TaskEvent.REOPEN, now)
    audit(session, actor=SYSTEM, action="channel", target=f"policy {policy.policy_no}", now=now, reason=why,
          detail=f"{before} → {nxt}")
    session.flush()
    return nxt


def chosen_by_applicant(session: Session, task: CallbackTask, to: CallbackChannel, *, now: datetime,
                        why: str) -> None:
    """The applicant chose another channel during a call (the right to choose, docs/domain.md R7): the task
    leaves the call queued on `to` (for the e-callback: waiting for its link), audited as the robot's doing."""
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    before = task.channel
    if task.status in (TaskStatus.DIALING, TaskStatus.IN_PROGRESS):
        apply(task, TaskEvent.RETRY, now)
    task.channel, task.updated_at = to, now
    audit(session, actor=SYSTEM, action="channel", target=f"policy {policy.policy_no}", now=now, reason=why,
          detail=f"{before} → {to}")
    session.flush()


def end_unreachable(session: Session, task: CallbackTask, *, detail: str, now: datetime, settings: Settings,
                    calendar: BusinessCalendar) -> None:
    """No channel is left: the callback ends as unreachable (核实件) and the branch gets a verification case
    saying why (`detail`, zh-CN). The dialer's and the e-callback job's ending alike."""
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    apply(task, TaskEvent.COMPLETE, now, result_class=ResultClass.VERIFICATION,
          reason_codes=[ReasonCode.UNREACHABLE.value])
    open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, CaseType.VERIFICATION_CASE,
                                 ReasonCode.UNREACHABLE.value, detail)],
               now=now, settings=settings.cases, calendar=calendar)
