"""A number the carrier refuses when dialled: the task is held and the branch verifies it (no retry).

The hold remembers the number; importing the policy with a corrected number releases it (intake).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cases.service import NewCase, open_cases
from dialer.retry import release
from flows.vocab import CaseType, ReasonCode
from kit.calendar import BusinessCalendar
from kit.settings import CaseSettings
from kit.vocab import HoldReason, TaskStatus
from storage.models import CallbackTask, Policy, TaskHold


def hold_wrong_number(session: Session, task: CallbackTask, why: str, *, now: datetime, cases: CaseSettings,
                      calendar: BusinessCalendar) -> None:
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    detail = f"拨打投保人电话“{policy.applicant_phone}”失败：{why}。请通过保全变更更正号码"
    session.add(TaskHold(task_id=task.id, reason=HoldReason.WRONG_NUMBER, detail=detail[:255], created_at=now,
                         source="dialer", phone=policy.applicant_phone))
    task.status = TaskStatus.HELD
    task.next_attempt_at = None
    task.updated_at = now
    release(task)
    open_cases(session, [NewCase(policy_id=policy.id, task_id=task.id, branch_id=policy.branch_id,
                                 type=CaseType.VERIFICATION_CASE, reason=ReasonCode.WRONG_NUMBER.value,
                                 detail=detail)],
               now=now, settings=cases, calendar=calendar)
    session.flush()
