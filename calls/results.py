"""A finished call's classification → the call, its callback task and the branch's cases.

Applied again when an agent reports the outcome of a hand-off: cases the new result no longer needs are
closed, new ones opened. Services flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.orm import Session

from cases.service import NewCase, close_case_ids, open_cases
from channels.switch import chosen_by_applicant
from dialer.hours import CallingRules
from dialer.retry import schedule_after_delay, schedule_retry
from flows.classify import CaseToOpen, Classification
from flows.model import EndReason
from flows.vocab import CaseType, ReasonCode, ResultClass
from flows.words_zh import REASON_ZH, RESULT_ZH, TOPIC_ZH
from kit.settings import Settings
from kit.vocab import CallbackChannel, RetryReason, TaskStatus
from storage.models import Call, CallbackTask, Policy
from storage.repositories import calls as call_repo
from tasks.lifecycle import TaskEvent, allowed, apply


def _second(case_type: CaseType) -> CaseType:
    return CaseType.SECOND_EXPLANATION_CASE if case_type is CaseType.FIRST_EXPLANATION_CASE else case_type


def cases_needed(result: Classification, *, confirming: bool = False) -> tuple[CaseToOpen, ...]:
    """The cases a classified result needs (apply_result opens those the task has not open yet). `confirming`:
    the callback confirms an earlier explanation, so a topic still unclear is a second explanation (§14 rule
    29). Pure: the flow studio's simulator shows these without writing anything."""
    if not confirming or result.retry:
        return result.cases
    return tuple(dataclasses.replace(c, type=_second(c.type)) for c in result.cases)


DETAIL = "机器人回访：{result}；原因：{reasons}{topic}"  # the call itself is listed on the case


def apply_result(session: Session, call: Call, task: CallbackTask, policy: Policy, result: Classification, *,
                 end_reason: EndReason, now: datetime, settings: Settings, rules: CallingRules, note: str) -> None:
    call.result_class = result.result_class
    call.reason_codes = [str(code) for code in result.reason_codes]
    call.finished_at = now
    call.updated_at = now
    ended = call.ended_at or now
    if task.status is TaskStatus.CANCELLED:  # surrendered while the call ran: the call keeps its result alone
        session.flush()
        return
    if (result.retry or end_reason is EndReason.NOT_RECEIVED) and not allowed(task.status, TaskEvent.RETRY):
        pass  # a test call on a finished task (`huifang simulate call`) asks for another: the task stays as it is
    elif end_reason is EndReason.LINK_REQUESTED:  # the applicant chose the SMS link: the e-callback job sends it
        chosen_by_applicant(session, task, CallbackChannel.ECALLBACK, now=now,
                            why=f"投保人在电话回访中按9要求改用短信链接（{call.call_sid}）")
    elif result.retry:  # not reached yet: the dialer's rules say when to call again
        reason = RetryReason.APPLICANT_ABSENT if end_reason is EndReason.APPLICANT_ABSENT else RetryReason.HANGUP
        schedule_retry(session, task, reason, ended, now=now, settings=settings, rules=rules)
    elif end_reason is EndReason.NOT_RECEIVED:  # the branch checks the delivery; the robot calls again later
        schedule_after_delay(task, ended, settings.dialer.not_received_delay_days, now=now, rules=rules)
    else:
        apply(task, TaskEvent.COMPLETE, now, result_class=result.result_class, reason_codes=call.reason_codes)
    wanted = {(c.type, str(c.reason)): c for c in cases_needed(result, confirming=task.confirming_case_id is not None)}
    if task.confirming_case_id is not None and not result.retry and task.status is TaskStatus.COMPLETED:
        task.confirming_case_id = None
    open_now = call_repo.open_cases_of_call(session, call.id)
    have = {(c.type, c.reason) for c in call_repo.open_cases_of_task(session, task.id)}
    close_case_ids(session, [c.id for c in open_now if (c.type, c.reason) not in wanted],
                   now=now, action="reclassified", note=note)
    reasons = "、".join(REASON_ZH.get(code, code) for code in call.reason_codes)
    new = [
        NewCase(policy_id=policy.id, task_id=task.id, branch_id=policy.branch_id, type=c.type, reason=str(c.reason),
                detail=DETAIL.format(result=RESULT_ZH[str(result.result_class)], reasons=reasons,
                                     topic=f"；问题项：{TOPIC_ZH.get(str(c.topic), c.topic)}" if c.topic else ""),
                call_id=call.id)
        for key, c in wanted.items() if key not in have
    ]
    open_cases(session, new, now=now, settings=settings.cases, calendar=rules.calendar)
    session.flush()


def recording_missing(session: Session, call: Call, recording_sid: str, status: str, now: datetime) -> None:
    """A phone callback with no recording cannot be marked successful (docs/domain.md §14 rule 19): a call
    that was standard or sub-standard gives its task back to the dialer for another callback."""
    call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "recording", "text": status,
                                                "detail": {"RecordingSid": recording_sid}}])
    if call.result_class not in (ResultClass.STANDARD, ResultClass.SUB_STANDARD):
        return
    task = session.get(CallbackTask, call.task_id)
    assert task is not None
    call.reason_codes = [*call.reason_codes, ReasonCode.RECORDING_MISSING.value]
    call.updated_at = now
    if task.status is TaskStatus.COMPLETED and task.result_class == call.result_class:
        apply(task, TaskEvent.REVERT, now)
