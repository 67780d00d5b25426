"""A returned letter's signed questionnaire, or a visit's, recorded by the branch (docs/domain.md §5, §14 rules 20
and 45): the answers on paper go through the same flow engine, classifier and result rules as a phone call, as
an off-phone session on the case's channel (calls.sessions); the letter or visit case is closed with the
handling recorded (cases.actions.resolve, signed_questionnaire: the visitor rule is there); the scan is kept
write-once with its SHA-256 beside the session (the e-callback's snapshots: the recordings' retention, the
compliance bundle, verify and purge). One function, inside the caller's transaction: all of it or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from calls import service
from calls import sessions as off_phone
from calls.context import CallContext
from cases.actions import Action, CallingRules, Handling, Outcome, load, resolve
from cases.outcomes import ActionRefused, Refusal
from channels.sequence import CASE_FOR
from ecallback.traces import keep
from flows.engine import FlowEngine, Phase
from flows.model import StepKind
from flows.vocab import Topic
from kit.actor import CASE_HANDLERS, Actor
from kit.clock import business_today
from kit.vocab import OPEN_CASE_STATUSES, CallbackChannel
from letters.scans import Scan
from recordings.audit import audit
from recordings.store import RecordingStore
from storage.models import Call, CallbackTask, Case, EcallbackSnapshot, Policy
from storage.repositories import calls as call_repo

CHANNEL_OF: dict[str, CallbackChannel] = {str(case_type): channel for channel, case_type in CASE_FOR.items()}
SCAN = "scan"  # the snapshot kind of a signed questionnaire's scan (recordings.snapshots.KIND_ZH)
WHO = "branch"  # who recorded the answers, in the session's events


class Problem(StrEnum):
    NOT_APPLICABLE = "not_applicable"  # not a letter or visit case
    NO_TASK = "no_task"  # the case has no callback task, or the task is on another channel now
    ANSWER_MISSING = "answer_missing"  # step
    FLOW_CHANGED = "flow_changed"  # the questionnaire changed since the form was shown
    SIGNED_ON = "signed_on"  # the date signed is in the future


class ReplyRefused(ValueError):
    def __init__(self, message: str, problem: Problem, *, field: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.problem, self.field, self.params = problem, field, params


@dataclass(frozen=True)
class Question:
    step: str  # the flow step's id: the form's field is answer.<step>
    number: int
    text: str


@dataclass(frozen=True)
class Questionnaire:
    flow: str  # the flow's content hash: a form built from another version is refused
    title: str  # flow id and version
    questions: list[Question]


@dataclass(frozen=True)
class Reply:
    answers: Mapping[str, bool]  # step id → 是 (True) / 否 (False)
    signed_on: date
    scan: Scan
    visitor: str | None = None
    note: str = ""
    flow: str = ""  # the content hash the form was built from
    version: int | None = None  # the case's version the form was built from


@dataclass(frozen=True)
class Recorded:
    outcome: Outcome  # the case's handling (closed)
    call_sid: str
    result_class: str
    reason_codes: list[str]
    snapshot: EcallbackSnapshot


def paper_context(phone: CallContext) -> CallContext:
    """The call rules for answers recorded from paper: no agent line, one identity check (the signature, as the
    branch verified it), the phone's time limit (all answers are recorded at one moment)."""
    return off_phone.session_context(phone, identity_attempts=1, time_limit_s=phone.settings.ivr.max_call_seconds)


def questionnaire(session: Session, ctx: CallContext, task: CallbackTask, policy: Policy) -> Questionnaire:
    """The questions the applicant answers on paper, from the flow engine for this policy today (the printed
    letter's: the yes/no steps, without identity, which the signature stands for)."""
    engine = ctx.engine(session, task, policy)
    return Questionnaire(engine.flow.content_hash, f"{engine.flow.id} v{engine.flow.version}",
                         [Question(s.step.id, n, s.text) for n, s in enumerate(_asked(engine), 1)])


def _asked(engine: FlowEngine) -> list[Any]:
    return [s for s in engine.script() if s.step.kind is StepKind.ASK and s.step.topic is not Topic.IDENTITY]


def case_task(session: Session, actor: Actor, case_id: int,
              expected_version: int | None = None) -> tuple[Case, CallbackTask, Policy]:
    """The open letter or visit case (through the actor's scope: CaseNotFound outside it), its callback task on
    the case's channel and its policy."""
    case, _code = load(session, actor, case_id, expected_version)
    channel = CHANNEL_OF.get(str(case.type))
    if channel is None:
        raise ReplyRefused(f"a signed questionnaire is recorded on a letter or visit case, not a {case.type}",
                           Problem.NOT_APPLICABLE, case_type=str(case.type))
    if case.status not in OPEN_CASE_STATUSES:
        raise ActionRefused(f"the case is {case.status.value}: nothing more can be done with it",
                            Refusal.CASE_NOT_OPEN, case_status=case.status.value)
    task = session.get(CallbackTask, case.task_id, with_for_update=True) if case.task_id else None
    if task is None or task.channel is not channel:
        raise ReplyRefused(f"the case's callback is not on the {channel} channel now", Problem.NO_TASK,
                           channel=str(channel))
    policy = session.get(Policy, case.policy_id)
    assert policy is not None
    return case, task, policy


def record(session: Session, ctx: CallContext, actor: Actor, case_id: int, reply: Reply, *,
           files: RecordingStore, rules: CallingRules) -> Recorded:
    """Record the signed questionnaire of letter or visit case `case_id`. Refused (ReplyRefused, ActionRefused,
    StaleCase, CaseNotFound): nothing changed. `ctx` is the off-phone context (`paper_context`); `rules` the
    case actions' (huifang.case_rules.CaseRules)."""
    handler = actor.acting_as(CASE_HANDLERS, "record a signed questionnaire")
    case, task, policy = case_task(session, handler, case_id, reply.version)
    channel = CHANNEL_OF[str(case.type)]
    now = ctx.clock.now()
    if reply.signed_on > business_today(ctx.clock):
        raise ReplyRefused("the date signed cannot be in the future", Problem.SIGNED_ON, field="signed_on")
    asked = questionnaire(session, ctx, task, policy)
    if reply.flow and reply.flow != asked.flow:
        raise ReplyRefused("the questionnaire changed since the form was shown: reload it", Problem.FLOW_CHANGED)
    for question in asked.questions:
        if question.step not in reply.answers:
            raise ReplyRefused(f"question {question.number} has no answer", Problem.ANSWER_MISSING,
                               field=f"answer.{question.step}", step=question.step, number=question.number)
    detail: dict[str, Any] = {"via": "paper", "by": handler.user, "case": case.id,
                              "signed_on": reply.signed_on.isoformat(), "visitor": reply.visitor or ""}
    with session.begin_nested():  # a refusal below (the visitor rule, a stale case) undoes the session too
        call = off_phone.open_session(session, ctx, task, channel, detail=detail)
        _answer(session, ctx, call, policy, reply.answers, detail)
        session.flush()
        note = (f"签字问卷已收回（签署日期 {reply.signed_on.isoformat()}；会话 {call.call_sid}）"
                + (f"；{reply.note}" if reply.note else ""))
        handling = Handling(Action.SIGNED_QUESTIONNAIRE, note, visitor=reply.visitor, session_sid=call.call_sid)
        outcome = resolve(session, handler, case.id, handling, now=now, settings=ctx.settings,
                          calendar=ctx.calendar, rules=rules,
                          expected_version=reply.version)
        scan = reply.scan
        call_repo.add_events(session, call, now, [{
            "who": WHO, "kind": SCAN, "topic": None, "text": f"签字问卷扫描件（{scan.media_type}）",
            "detail": {**detail, "media_type": scan.media_type, "size_bytes": len(scan.data)}}])
        shot = keep(session, call, SCAN, scan.data, scan.extension, now=now, files=files,
                    settings=ctx.settings.recordings)
        audit(session, actor=handler, action=SCAN, target=f"case {case.id}", now=now,
              detail=f"call {call.call_sid}; policy {policy.policy_no}; {scan.media_type}; {shot.size_bytes} bytes; "
                     f"sha256 {shot.sha256}")
    return Recorded(outcome, call.call_sid, str(call.result_class), list(call.reason_codes or []), shot)


def _answer(session: Session, ctx: CallContext, call: Call, policy: Policy, answers: Mapping[str, bool],
            detail: dict[str, Any]) -> None:
    """Identity as the branch verified it (the applicant's signature: the birth date the engine checks), then
    each recorded answer in the engine's order. A 否 on paper cannot be explained and asked again: when the
    engine explains and asks again, the same 否 is its answer (unresolved: the hand-off finds no agent)."""
    call_sid = call.call_sid
    doc = off_phone.current(call)
    doc = off_phone.identify(session, ctx, call_sid, doc["seq"], policy.applicant_birth_date,
                             {**detail, "identity": "signature"})
    guard = 0
    while doc["end_reason"] is None:
        guard += 1
        state = service.load(session, ctx, call_sid).state
        step = state.plan[state.index]
        if step not in answers or guard > 4 * len(state.plan):
            raise ReplyRefused(f"the questionnaire asks {step}, which the form did not", Problem.FLOW_CHANGED)
        value = "yes" if answers[step] else "no"
        doc = off_phone.answer(session, ctx, call_sid, doc["seq"], value, {**detail, "paper": step})
        if value == "no" and doc["end_reason"] is None:
            after = service.load(session, ctx, call_sid).state
            if after.phase is Phase.EXPLAINED and after.plan[after.index] == step:
                doc = off_phone.answer(session, ctx, call_sid, doc["seq"], "no", {**detail, "paper": step,
                                                                                 "again": True})

