"""Call status callbacks: the attempt's progress and outcome. Older or repeated callbacks change nothing.

Attempts are counted when Twilio reports the call initiated or ringing, not when the dialer asked for it
(Surveda #1619/#1589); a completed call whose flow had not ended is a hang-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sqlalchemy.orm import Session

from dialer.holds import hold_wrong_number
from dialer.retry import schedule_retry
from flows.engine import CallerInput, CallState, InputKind
from ivr.services import IvrError, IvrServices, Loaded, NotFound, build_engine, finish
from kit.vocab import CallOutcome, TaskStatus
from storage.models import Call, CallbackTask, Policy
from storage.repositories import calls as call_repo

RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3,
        "completed": 4, "busy": 4, "no-answer": 4, "failed": 4, "canceled": 4}
INVALID_NUMBER_SIP = frozenset({"404", "484", "604"})  # not found, address incomplete, does not exist anywhere
UNANSWERED = {"busy": CallOutcome.BUSY, "no-answer": CallOutcome.NO_ANSWER, "failed": CallOutcome.FAILED,
              "canceled": CallOutcome.CANCELED}


def require(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise IvrError(f"missing parameter {name}")
    return value


def register(session: Session, svc: IvrServices, call_sid: str, task_id: int | None, now: datetime) -> Call:
    """A call the dialer placed for a task (also used when a webhook names a call it has not stored yet)."""
    if task_id is None:
        raise NotFound(f"unknown CallSid {call_sid!r} and no task parameter to attach it to")
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise NotFound(f"unknown task {task_id}")
    return call_repo.create(session, call_sid=call_sid, task_id=task.id, policy_id=task.policy_id, now=now)


def _timestamp(form: Mapping[str, str], now: datetime) -> datetime:
    raw = form.get("Timestamp")
    if not raw:
        return now
    try:
        return parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError):
        raise IvrError(f"Timestamp {raw!r} is not an RFC 2822 date") from None


def on_status(session: Session, svc: IvrServices, form: Mapping[str, str], task_id: int | None) -> bool:
    """Take one status callback. False when it was older than or the same as what is stored (no change)."""
    call_sid = require(form, "CallSid")
    status = require(form, "CallStatus")
    if status not in RANK:
        raise IvrError(f"CallStatus {status!r} is not one of {', '.join(RANK)}")
    now = svc.clock.now()
    at = _timestamp(form, now)
    call = call_repo.by_sid(session, call_sid, lock=True) or register(session, svc, call_sid, task_id, now)
    rank = RANK[status]
    if rank < call.status_rank or (rank == call.status_rank and call.twilio_status != "queued"):
        return False
    task = session.get(CallbackTask, call.task_id)
    assert task is not None
    call.twilio_status, call.status_rank, call.updated_at = status, rank, now
    if status in ("initiated", "ringing"):
        call.started_at = call.started_at or at
        _count_attempt(call, task, now)
    elif status == "in-progress":
        call.answered_at = call.answered_at or at
    elif rank == 4:
        _ended(session, svc, call, task, status, form, at, now)
    call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "status", "text": status,
                                                "detail": {k: form[k] for k in ("SequenceNumber", "CallDuration",
                                                           "Timestamp", "AnsweredBy", "SipResponseCode") if k in form}}])
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


def _ended(session: Session, svc: IvrServices, call: Call, task: CallbackTask, status: str,
           form: Mapping[str, str], at: datetime, now: datetime) -> None:
    call.ended_at = at
    duration = form.get("CallDuration")
    call.duration_s = int(duration) if duration and duration.isdigit() else call.duration_s
    if status in UNANSWERED:
        if status != "failed" and status != "canceled":
            _count_attempt(call, task, now)
        call.outcome = UNANSWERED[status]
        call.finished_at = now
        if not _is_current(session, call, task):
            return
        sip = form.get("SipResponseCode", "")
        if status == "failed" and sip in INVALID_NUMBER_SIP:
            hold_wrong_number(session, task, f"SIP {sip}", now=now, cases=svc.settings.cases, calendar=svc.calendar)
        else:
            schedule_retry(session, task, call.outcome.value, at, now=now, settings=svc.settings, rules=svc.rules)
        return
    _count_attempt(call, task, now)
    if call.outcome is CallOutcome.MACHINE or call.end_reason is not None:
        if call.outcome is CallOutcome.MACHINE and _is_current(session, call, task):
            schedule_retry(session, task, "machine", at, now=now, settings=svc.settings, rules=svc.rules)
        call.finished_at = call.finished_at or now
        return
    if call.state is None:  # completed without an answered-call webhook: nobody was reached
        call.outcome, call.finished_at = CallOutcome.NO_ANSWER, now
        if _is_current(session, call, task):
            schedule_retry(session, task, "no_answer", at, now=now, settings=svc.settings, rules=svc.rules)
        return
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    loaded = Loaded(call, task, policy, build_engine(session, svc, task, policy, call.flow_id))
    state = CallState.from_dict(call.state)
    if state.end_reason is None:
        state, _ = loaded.engine.step(state, CallerInput(InputKind.HANGUP))
        call.state = state.to_dict()
        call.last_twiml = None
    finish(session, svc, loaded, state, now, CallOutcome.HANGUP if state.end_reason == "hangup" else CallOutcome.COMPLETED)
