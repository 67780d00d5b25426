"""Read models of a policy's callback: its task (status, holds, deadline, late), cases and calls, through the
actor's scope — for `huifang policies show`, `tasks list`, the console and the API alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from calls.views import CallView, call_view
from cases.views import CaseView, case_view
from kit.actor import CASE_READERS, Actor
from kit.clock import BUSINESS_TZ
from kit.vocab import TaskStatus
from storage.models import CallbackTask, Policy
from storage.repositories import calls as call_repo
from storage.repositories import cases as case_repo
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo
from tasks.rules import is_late


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class TaskView:
    status: str
    hold_reasons: list[str]
    opens_on: date
    deadline: date
    questionnaire_variant: str
    attempts: int
    result_class: str | None
    reason_codes: list[str]
    late: bool
    version: int
    channel: str = "phone"  # the callback's channel (回访方式); `huifang tasks channel` prints it beside the task

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "hold_reasons": self.hold_reasons, "opens_on": _day(self.opens_on),
                "deadline": _day(self.deadline), "questionnaire_variant": self.questionnaire_variant,
                "attempts": self.attempts, "result_class": self.result_class, "reason_codes": self.reason_codes,
                "late": self.late}


def task_view(task: CallbackTask, hold_reasons: list[str], today: date) -> TaskView:
    completed_on = task.completed_at.astimezone(BUSINESS_TZ).date() if task.completed_at else None
    return TaskView(status=task.status.value, hold_reasons=hold_reasons, opens_on=task.opens_on,
                    deadline=task.deadline, questionnaire_variant=task.questionnaire_variant.value,
                    attempts=task.attempts, result_class=task.result_class.value if task.result_class else None,
                    reason_codes=list(task.reason_codes or []),
                    late=is_late(deadline=task.deadline, completed_on=completed_on, today=today),
                    version=task.version_id, channel=task.channel.value)


@dataclass(frozen=True)
class PolicyView:
    policy: Policy
    task: TaskView | None
    cases: list[CaseView]
    calls: list[CallView]

    def to_json(self) -> dict[str, Any]:
        p = self.policy
        return {
            "policy_no": p.policy_no,
            "callback_required": p.callback_required,
            "exclusion_reason": p.exclusion_reason.value if p.exclusion_reason else None,
            "cooling_off_end": _day(p.cooling_off_end),
            "product_type": p.product_type.value,
            "channel": p.channel.value,
            "issue_date": _day(p.issue_date),
            "receipt_signed_date": _day(p.receipt_signed_date),
            "receipt_logged_date": _day(p.receipt_logged_date),
            "cooling_off_days": p.cooling_off_days,
            "dual_recorded": p.dual_recorded,
            "dual_recorded_derived": p.dual_recorded_derived,
            "applicant_phone_valid": p.applicant_phone_valid,
            "task": self.task.to_json() if self.task else None,
            "cases": [c.to_json() for c in self.cases],
            "calls": [c.to_json() for c in self.calls],
        }


class PolicyNotFound(LookupError):
    """No such policy in the actor's view."""


def policy_view(session: Session, actor: Actor, policy_no: str, now: datetime) -> PolicyView:
    actor.require(CASE_READERS, "read policies")
    policy = policy_repo.by_number(session, policy_no, actor=actor)
    if policy is None:
        raise PolicyNotFound(f"no policy {policy_no}")
    today = now.astimezone(BUSINESS_TZ).date()
    task = task_repo.for_policy(session, policy.id)
    task_json = None
    if task is not None:
        reasons = task_repo.active_hold_reasons(session, [task.id]).get(task.id, [])
        task_json = task_view(task, [r.value for r in reasons], today)
    return PolicyView(
        policy=policy, task=task_json,
        cases=[case_view(c, code, now) for c, code in case_repo.for_policy(session, actor, policy.id)],
        calls=[call_view(session, c) for c in call_repo.for_policy(session, policy.id)])


@dataclass(frozen=True)
class TaskLine:
    policy_no: str
    task: TaskView

    def to_json(self) -> dict[str, Any]:
        return {"policy_no": self.policy_no, **self.task.to_json()}


def task_list(session: Session, actor: Actor, now: datetime, *, status: TaskStatus | None = None,
              branch_code: str | None = None) -> list[TaskLine]:
    actor.require(CASE_READERS, "list callback tasks")
    rows = task_repo.listing(session, actor, status=status, branch_code=branch_code)
    today = now.astimezone(BUSINESS_TZ).date()
    reasons = task_repo.active_hold_reasons(session, [t.id for t, _ in rows])
    return [TaskLine(policy_no, task_view(task, [r.value for r in reasons.get(task.id, [])], today))
            for task, policy_no in rows]
