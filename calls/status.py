"""Call-progress reports: the attempt's progress and outcome. Older or repeated reports change nothing.

Attempts are counted when the provider reports the call initiated or ringing, not when the dialer asked for
it (Surveda #1619/#1589); a completed call whose flow had not ended is a hang-up, unless a webhook and its
fallback failed (Twilio then ends the call with its application error): that attempt failed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from calls.context import CallContext
from calls.errors import BadCallInput
from calls.inputs import StatusReport
from calls.service import FALLBACK_FAILED, Loaded, attach, hung_up_during
from dialer.retry import schedule_retry
from kit.vocab import CallOutcome, RetryReason, TaskStatus
from storage.models import Call, CallbackTask, Policy
from storage.repositories import calls as call_repo
from tasks.holds import hold_wrong_number

RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3,
        "completed": 4, "busy": 4, "no-answer": 4, "failed": 4, "canceled": 4}
INVALID_NUMBER_SIP = frozenset({"404", "484", "604"})  # not found, address incomplete, does not exist anywhere
UNANSWERED = {"busy": CallOutcome.BUSY, "no-answer": CallOutcome.NO_ANSWER, "failed": CallOutcome.FAILED,
              "canceled": CallOutcome.CANCELED}
RETRY_FOR = {CallOutcome.BUSY: RetryReason.BUSY, CallOutcome.NO_ANSWER: RetryReason.NO_ANSWER,
             CallOutcome.FAILED: RetryReason.FAILED, CallOutcome.CANCELED: RetryReason.CANCELED}


def on_status(session: Session, ctx: CallContext, report: StatusReport) -> bool:
    """Take one report. False when it was older than or the same as what is stored (no change)."""
    if report.status not in RANK:
        raise BadCallInput(f"CallStatus {report.status!r} is not one of {', '.join(RANK)}")
    now = ctx.clock.now()
    at = report.at or now
    call = attach(session, report.call_sid, report.task_id, now, to=report.to, from_=report.from_)
    rank = RANK[report.status]
    if rank < call.status_rank or (rank == call.status_rank and call.twilio_status != "queued"):
        return False
    task = session.get(CallbackTask, call.task_id)
    assert task is not None
    call.twilio_status, call.status_rank, call.updated_at = report.status, rank, now
    if report.status in ("initiated", "ringing"):
        call.started_at = call.started_at or at
        _count_attempt(call, task, now)
    elif report.status == "in-progress":
        call.answered_at = call.answered_at or at
    elif rank == 4:
        _ended(session, ctx, call, task, report, at, now)
    call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "status", "text": report.status,
                                                "detail": report.detail}])
    return True


def _is_current(session: Session, call: Call, task: CallbackTask) -> bool:
    """Whether this call is the task's latest one, still open: only then does its end move the task."""
    latest = call_repo.for_task(session, task.id)[-1]
    return latest.id == call.id and task.status in (TaskStatus.IN_PROGRESS, TaskStatus.DIALING)


def _count_attempt(call: Call, task: CallbackTask, now: datetime) -> None:
    if not call.attempt_counted:
        call.attempt_counted = True
        task.attempts += 1
        task.updated_at = now


def _ended(session: Session, ctx: CallContext, call: Call, task: CallbackTask, report: StatusReport,
           at: datetime, now: datetime) -> None:
    call.ended_at = at
    call.duration_s = report.duration_s if report.duration_s is not None else call.duration_s
    settings = ctx.settings
    if report.status in UNANSWERED:
        if report.status not in ("failed", "canceled"):
            _count_attempt(call, task, now)
        call.outcome = UNANSWERED[report.status]
        call.finished_at = now
        if not _is_current(session, call, task):
            return
        sip = report.sip_response_code
        if report.status == "failed" and sip in INVALID_NUMBER_SIP:
            hold_wrong_number(session, task, f"SIP {sip}", now=now, cases=settings.cases, calendar=ctx.calendar)
        else:
            schedule_retry(session, task, RETRY_FOR[call.outcome], at, now=now, settings=settings, rules=ctx.rules)
        return
    _count_attempt(call, task, now)
    if call.outcome is CallOutcome.MACHINE or call.end_reason is not None:
        if call.outcome is CallOutcome.MACHINE and _is_current(session, call, task):
            schedule_retry(session, task, RetryReason.MACHINE, at, now=now, settings=settings, rules=ctx.rules)
        call.finished_at = call.finished_at or now
        return
    if call.state is None:  # completed without an answered-call webhook: nobody was reached
        call.outcome, call.finished_at = CallOutcome.NO_ANSWER, now
        if _is_current(session, call, task):
            schedule_retry(session, task, RetryReason.NO_ANSWER, at, now=now, settings=settings, rules=ctx.rules)
        return
    if call_repo.has_event(session, call.id, "fallback", FALLBACK_FAILED):
        # Twilio played its application error and hung up: not the caller's refusal or hang-up; called again
        call.outcome, call.finished_at = CallOutcome.FAILED, now
        if _is_current(session, call, task):
            schedule_retry(session, task, RetryReason.FAILED, at, now=now, settings=settings, rules=ctx.rules)
        return
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    hung_up_during(session, ctx, Loaded(call, task, policy, ctx.engine(session, task, policy, call.flow_id)), now)
