"""Phone-quality holds (三禁止 #1): decide which open tasks must be held, add and release holds, open and
close the branch's verification cases.

An import evaluates only the numbers it can have changed the state of (`reevaluate_rechecked_phones`): the applicant
phones of the policies it wrote, new and old values (a policy moving off a shared number releases the others),
and the old and new phones of the agents it changed (the agent conflict). Each chunk remembers them in
`phone_rechecks` in its own transaction, so an import that stops before its phone rules leaves them to the next.
The outcome is the whole-database evaluation's (`reevaluate_phone_holds` without phones: a branch's phone
correction): a hold's state depends only on the policies on its task's number and their agents."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cases.service import NewCase, close_cases_for_tasks, open_cases
from flows.vocab import CaseType
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from kit.vocab import HoldReason, TaskStatus
from storage.repositories import phone_quality as pq_repo
from storage.repositories import tasks as task_repo
from storage.repositories.phone_quality import PhoneFacts
from tasks.lifecycle import TaskEvent, target

RELEASE_NOTE = "号码已更正，自动解除挂起"
# More numbers than this to recheck (a file of a million rows) and one pass over the whole database is cheaper than
# the per-number lookups; the outcome is the same.
SCOPED_PHONES_MAX = 200_000


@dataclass(frozen=True)
class HoldChanges:
    added: int
    released: int


def hold_detail(reason: HoldReason, facts: PhoneFacts) -> str:
    """What branch staff read on the hold and on the verification case (zh-CN)."""
    if reason is HoldReason.WRONG_NUMBER:
        return f"投保人电话“{facts.phone}”无效（位数不符、空号或非可拨打号码），请通过保全变更更正号码"
    if facts.agent_conflict:
        return "投保人电话与业务员电话相同（非自保件），请核实投保人本人联系电话"
    return f"该号码被{facts.sharing_applicants}位不同投保人使用，请核实投保人本人联系电话"


def desired_holds(facts: PhoneFacts) -> list[HoldReason]:
    if not facts.phone_valid:
        return [HoldReason.WRONG_NUMBER]
    if facts.agent_conflict or facts.sharing_applicants:
        return [HoldReason.DUPLICATE_NUMBER]
    return []


def remember_for_recheck(session: Session, phones: Collection[str | None]) -> None:
    """Numbers an import's chunk touched, to be evaluated by `reevaluate_rechecked_phones` (same transaction as
    the chunk's writes)."""
    pq_repo.add_rechecks(session, sorted({phone for phone in phones if phone is not None}))


def reevaluate_rechecked_phones(
    session: Session, *, now: datetime, settings: Settings, calendar: BusinessCalendar
) -> HoldChanges:
    """Evaluate the numbers imports remembered (and forget them): under intake's lock, in one transaction."""
    phones = pq_repo.take_rechecks(session)
    scope = None if len(phones) > SCOPED_PHONES_MAX else phones
    return reevaluate_phone_holds(session, now=now, settings=settings, calendar=calendar, phones=scope)


def reevaluate_phone_holds(
    session: Session, *, now: datetime, settings: Settings, calendar: BusinessCalendar,
    phones: Collection[str] | None = None,
) -> HoldChanges:
    """Add the holds (and verification cases) the phone rules want on open tasks and release those they no longer
    want; with `phones`, for the tasks of policies on those applicant numbers only."""
    if phones is not None:
        pq_repo.plan_for_these_values(session)
    problems = pq_repo.open_tasks_with_phone_problems(session, settings.phone.duplicate_applicants_threshold, phones)
    wanted: dict[tuple[int, HoldReason], PhoneFacts] = {}
    for facts in problems:
        for reason in desired_holds(facts):
            wanted[(facts.task_id, reason)] = facts
    active = {(task_id, reason): hold_id for hold_id, task_id, reason in task_repo.active_holds_on_open_tasks(session, phones)}

    to_add = [key for key in wanted if key not in active]
    to_release = [key for key in active if key not in wanted]
    # a number the carrier refused when dialled is held until the policy's number is changed
    for hold_id, task_id, reason in task_repo.dialer_holds_on_changed_phones(session, phones):
        active[(task_id, reason)] = hold_id
        if (task_id, reason) not in wanted:
            to_release.append((task_id, reason))

    task_repo.insert_holds(
        session,
        [
            {"task_id": task_id, "reason": reason, "detail": hold_detail(reason, wanted[(task_id, reason)]),
             "created_at": now}
            for task_id, reason in to_add
        ],
    )
    open_cases(
        session,
        [
            NewCase(
                policy_id=wanted[key].policy_id,
                task_id=key[0],
                branch_id=wanted[key].branch_id,
                type=CaseType.VERIFICATION_CASE,
                reason=key[1].value,
                detail=hold_detail(key[1], wanted[key]),
            )
            for key in to_add
        ],
        now=now,
        settings=settings.cases,
        calendar=calendar,
    )
    task_repo.release_holds(session, [active[key] for key in to_release], now, RELEASE_NOTE)
    close_cases_for_tasks(
        session,
        [(task_id, reason.value) for task_id, reason in to_release],
        now=now,
        action="phone_corrected",
        note=RELEASE_NOTE,
    )
    task_repo.sync_held_status(session, now, held=target(TaskStatus.QUEUED, TaskEvent.HOLD),
                               released=target(TaskStatus.HELD, TaskEvent.RELEASE_HOLD), phones=phones)
    session.flush()
    return HoldChanges(added=len(to_add), released=len(to_release))
