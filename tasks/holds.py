"""A number the carrier refuses when dialled: the task is held and the branch verifies it (no retry).

The hold remembers the number; importing the policy with a corrected number (or a branch's phone correction)
releases it (intake's phone-quality rules, `intake.phone_quality.reevaluate_phone_holds`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ReasonCode
from kit.calendar import BusinessCalendar
from kit.settings import CaseSettings
from kit.vocab import HoldReason, HoldSource
from storage.models import CallbackTask, Policy, TaskHold
from tasks.lifecycle import TaskEvent, apply


def hold_wrong_number(session: Session, task: CallbackTask, why: str, *, now: datetime, cases: CaseSettings,
                      calendar: BusinessCalendar) -> None:
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    detail = f"拨打投保人电话“{policy.applicant_phone}”失败：{why}。请通过保全变更更正号码"
    apply(task, TaskEvent.HOLD, now)
    session.add(TaskHold(task_id=task.id, reason=HoldReason.WRONG_NUMBER, detail=detail[:255], created_at=now,
                         source=HoldSource.DIALER, phone=policy.applicant_phone))
    open_cases(session, [NewCase(policy_id=policy.id, task_id=task.id, branch_id=policy.branch_id,
                                 type=CaseType.VERIFICATION_CASE, reason=ReasonCode.WRONG_NUMBER.value,
                                 detail=detail)],
               now=now, settings=cases, calendar=calendar)
    session.flush()
