"""After an attempt: when to call again, or when the applicant counts as unreachable (docs/domain.md §6).

Timers start from the attempt's terminal status, not from when it was queued (Surveda #1619). Only
attempts Twilio reported as initiated or ringing count (#1589). Retries move to a part of the day not tried
yet; the last attempts go to another day so the cap is reached on at least `min_attempt_days` days; a
deadline close by shortens the wait so one attempt still lands inside the cooling-off period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cases.actions import open_second_explanation
from channels.switch import end_unreachable, fall_through
from dialer.hours import CallingRules
from flows.vocab import ReasonCode, ResultClass
from kit.clock import BUSINESS_TZ
from kit.settings import Settings
from kit.vocab import CallOutcome, RetryReason
from storage.models import Call, CallbackTask
from storage.repositories import calls as call_repo
from tasks.lifecycle import TaskEvent, apply

NO_CONTACT = frozenset({CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.MACHINE, CallOutcome.FAILED,
                        CallOutcome.CANCELED})
NOT_THE_APPLICANT = frozenset({ReasonCode.UNREACHABLE.value, ReasonCode.APPLICANT_ABSENT.value})


def failed_contacts(calls: Sequence[Call]) -> list[datetime]:
    """When each counted attempt that did not reach the applicant started."""
    return [c.started_at or c.created_at for c in calls
            if c.attempt_counted and (c.outcome in NO_CONTACT or NOT_THE_APPLICANT & set(c.reason_codes or []))]


def schedule_retry(session: Session, task: CallbackTask, reason: RetryReason, ended_at: datetime, *, now: datetime,
                   settings: Settings, rules: CallingRules) -> None:
    """Queue the task's next attempt after one that ended with `reason` (a key of retry_wait_minutes)."""
    d = settings.dialer
    history = failed_contacts(call_repo.for_task(session, task.id))
    days = {t.astimezone(BUSINESS_TZ).date() for t in history}
    if len(history) >= d.max_attempts and len(days) >= d.min_attempt_days:
        close_unreachable(session, task, len(history), len(days), now=now, settings=settings, rules=rules)
        return
    parts = [rules.daypart(t) for t in sorted(history)]
    avoid = set(parts) if len(set(parts)) < len(rules.dayparts) else set(parts[-1:])
    need_new_day = d.max_attempts - len(history) <= d.min_attempt_days - len(days)
    earliest = ended_at + timedelta(minutes=d.retry_wait_minutes[reason])
    candidate = rules.next_in_new_daypart(earliest, avoid, days if need_new_day else None)
    deadline_end = rules.window_end(task.deadline)
    if candidate > deadline_end and ended_at < deadline_end:
        soon = rules.next_callable(ended_at + timedelta(minutes=d.min_retry_gap_minutes))
        if soon <= deadline_end:
            candidate = soon  # one more try inside the cooling-off period beats the ideal spread
    apply(task, TaskEvent.RETRY, now, next_attempt_at=candidate)


def schedule_after_delay(task: CallbackTask, ended_at: datetime, days: int, *, now: datetime,
                         rules: CallingRules) -> None:
    """Call again after `days` (e.g. the contract is still on its way)."""
    apply(task, TaskEvent.RETRY, now, next_attempt_at=rules.next_callable(ended_at + timedelta(days=days)))


def close_unreachable(session: Session, task: CallbackTask, attempts: int, days: int, *, now: datetime,
                      settings: Settings, rules: CallingRules) -> None:
    """The phone attempts are used up: the next channel takes over, else the callback ends as unreachable (a
    confirming callback after an explanation escalates instead)."""
    if task.confirming_case_id is None and fall_through(
            session, task, now=now, settings=settings, calendar=rules.calendar,
            why=f"电话回访未能联系到投保人（{attempts}次，{days}天）") is not None:
        return  # the next channel of channels.sequence takes over
    if task.confirming_case_id is not None:  # the callback confirming an explanation failed (§14 rule 29)
        apply(task, TaskEvent.COMPLETE, now, result_class=ResultClass.VERIFICATION,
              reason_codes=[ReasonCode.UNREACHABLE.value])
        open_second_explanation(session, task, [ReasonCode.UNREACHABLE.value], now=now, settings=settings,
                                calendar=rules.calendar)
        return
    end_unreachable(session, task, detail=f"多次拨打未能联系到投保人（{attempts}次，{days}天），请核实联系方式或另约时间",
                    now=now, settings=settings, calendar=rules.calendar)
