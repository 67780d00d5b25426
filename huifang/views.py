"""Read models for the CLI's JSON (docs/interfaces.md). They assemble; the rules they call live elsewhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cases.sla import sla_status
from dialer.task_rules import is_late
from kit.clock import BUSINESS_TZ, Clock, business_today, isoformat_local
from kit.settings import Settings
from storage.models import Call, CallbackTask, Case, Policy
from storage.repositories import calls as call_repo
from storage.repositories import cases as case_repo
from storage.repositories import recordings as recording_repo
from storage.repositories import tasks as task_repo


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def task_view(task: CallbackTask, hold_reasons: list[str], today: date) -> dict[str, Any]:
    completed_on = task.completed_at.astimezone(BUSINESS_TZ).date() if task.completed_at else None
    return {
        "status": task.status.value,
        "hold_reasons": hold_reasons,
        "opens_on": _day(task.opens_on),
        "deadline": _day(task.deadline),
        "questionnaire_variant": task.questionnaire_variant.value,
        "attempts": task.attempts,
        "result_class": task.result_class.value if task.result_class else None,
        "reason_codes": list(task.reason_codes or []),
        "late": is_late(deadline=task.deadline, completed_on=completed_on, today=today),
    }


def case_view(case: Case, branch_code: str, clock: Clock, settings: Settings) -> dict[str, Any]:
    return {
        "id": case.id,
        "type": case.type.value,
        "reason": case.reason,
        "branch_code": branch_code,
        "status": case.status.value,
        "sla_status": sla_status(
            now=clock.now(), created_at=case.created_at, due=case.due_at, closed_at=case.closed_at,
            settings=settings.cases,
        ).value,
        "created_at": isoformat_local(case.created_at),
        "due_at": isoformat_local(case.due_at),
        "detail": case.detail,
        "closed_at": isoformat_local(case.closed_at) if case.closed_at else None,
    }


def policy_view(session: Session, policy: Policy, clock: Clock, settings: Settings) -> dict[str, Any]:
    today = business_today(clock)
    task = task_repo.for_policy(session, policy.id)
    task_json = None
    if task is not None:
        reasons = task_repo.active_hold_reasons(session, [task.id]).get(task.id, [])
        task_json = task_view(task, [r.value for r in reasons], today)
    return {
        "policy_no": policy.policy_no,
        "callback_required": policy.callback_required,
        "exclusion_reason": policy.exclusion_reason.value if policy.exclusion_reason else None,
        "cooling_off_end": _day(policy.cooling_off_end),
        "product_type": policy.product_type.value,
        "channel": policy.channel.value,
        "issue_date": _day(policy.issue_date),
        "receipt_signed_date": _day(policy.receipt_signed_date),
        "receipt_logged_date": _day(policy.receipt_logged_date),
        "cooling_off_days": policy.cooling_off_days,
        "dual_recorded": policy.dual_recorded,
        "dual_recorded_derived": policy.dual_recorded_derived,
        "applicant_phone_valid": policy.applicant_phone_valid,
        "task": task_json,
        "cases": [case_view(c, code, clock, settings) for c, code in case_repo.for_policy(session, policy.id)],
        "calls": [call_view(session, c) for c in call_repo.for_policy(session, policy.id)],
    }


def call_view(session: Session, call: Call) -> dict[str, Any]:
    recordings = recording_repo.for_call(session, call.id)
    return {
        "call_sid": call.call_sid,
        "started_at": isoformat_local(call.started_at or call.created_at),
        "outcome": call.outcome.value,
        "flow": {"id": call.flow_id, "version": call.flow_version} if call.flow_id else None,
        "end_reason": call.end_reason,
        "result_class": call.result_class.value if call.result_class else None,
        "reason_codes": list(call.reason_codes or []),
        "handoff": call.handoff_topic is not None,
        "recording": ({"recording_sid": recordings[-1].recording_sid, "status": recordings[-1].status.value,
                       "path": recordings[-1].path, "sha256": recordings[-1].sha256} if recordings else None),
    }


def task_list_view(
    session: Session, rows: list[tuple[CallbackTask, str]], clock: Clock
) -> list[dict[str, Any]]:
    today = business_today(clock)
    reasons = task_repo.active_hold_reasons(session, [t.id for t, _ in rows])
    return [
        {"policy_no": policy_no, **task_view(task, [r.value for r in reasons.get(task.id, [])], today)}
        for task, policy_no in rows
    ]
