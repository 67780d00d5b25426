"""Phone-quality holds (三禁止 #1): decide which open tasks must be held, add and release holds, open and
close the branch's verification cases. Evaluated over the whole database after every import."""

from __future__ import annotations

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


def reevaluate_phone_holds(
    session: Session, *, now: datetime, settings: Settings, calendar: BusinessCalendar
) -> HoldChanges:
    problems = pq_repo.open_tasks_with_phone_problems(session, settings.phone.duplicate_applicants_threshold)
    wanted: dict[tuple[int, HoldReason], PhoneFacts] = {}
    for facts in problems:
        for reason in desired_holds(facts):
            wanted[(facts.task_id, reason)] = facts
    active = {(task_id, reason): hold_id for hold_id, task_id, reason in task_repo.active_holds_on_open_tasks(session)}

    to_add = [key for key in wanted if key not in active]
    to_release = [key for key in active if key not in wanted]
    # a number the carrier refused when dialled is held until the policy's number is changed
    for hold_id, task_id, reason in task_repo.dialer_holds_on_changed_phones(session):
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
                               released=target(TaskStatus.HELD, TaskEvent.RELEASE_HOLD))
    session.flush()
    return HoldChanges(added=len(to_add), released=len(to_release))
