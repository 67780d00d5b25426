"""The questionnaire off the phone: an e-callback's H5 page (and any channel that is not a Twilio call) runs the
same flow engine, classifier and result rules as a call, through the calls service's own functions.

A session is a `Call` row with its `channel` set and a session id as its `call_sid` ("EC" + 32 hex digits for
an e-callback), its flow state stored as a call's is, its events in call_events (who="applicant" for the
answers, with the browser's address and user agent in the detail). It starts from a queued task without the
dialer's lease (the task stays queued until the result completes it). Its context renders a turn as JSON
instead of TwiML, has no agent line (a 联系人工 answer is a hand-off that is at once agent_unavailable, so the
answer stays human_requested and the classification opens the case, as the IVR without an agent line does),
and takes the channel's identity attempts and time limit instead of the phone's. Each function runs inside the
caller's transaction.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from calls import service
from calls.context import CallContext, EngineCache
from calls.errors import CallConflict, UnknownCall
from calls.inputs import Heard
from flows.engine import CallerInput, Expect, InputKind, Turn
from flows.library import FlowNotFound
from flows.model import StepKind
from flows.speak import for_reading
from kit.vocab import CallbackChannel, CallOutcome, TaskStatus
from storage.models import Call, CallbackTask, Policy
from storage.repositories import calls as call_repo

PREFIX: dict[CallbackChannel, str] = {CallbackChannel.ECALLBACK: "EC", CallbackChannel.LETTER: "LT",
                                      CallbackChannel.VISIT: "VS"}
WHO = "applicant"  # who answered, in a session's events
ANSWERS = {"yes": InputKind.YES, "no": InputKind.NO, "human": InputKind.HUMAN}  # the page's answer values
STARTABLE = (TaskStatus.QUEUED, TaskStatus.HELD)  # a phone hold does not stop a callback off the phone


class JsonResponder:
    """Renders a turn as JSON: what to show (the texts the robot would speak, in order, as a reader sees them:
    the hotline written, not spelled for the ear) and what to ask for."""

    def __init__(self, hotline: str = "") -> None:
        self.hotline = hotline

    def turn(self, turn: Turn, language: str, seq: int, call: Call) -> str:  # noqa: ARG002 - the protocol's
        return json.dumps({
            "seq": seq, "language": language, "expect": str(turn.expect), "digits": turn.digits,
            "prompts": [{"step": p.step_id, "topic": p.topic, "text": for_reading(p.text, self.hotline),
                         "role": p.role} for p in turn.prompts],
            "end_reason": str(turn.end_reason) if turn.end_reason else None,
        }, ensure_ascii=False)

    def hangup(self) -> str:
        return json.dumps({"seq": None, "language": "", "expect": str(Expect.NOTHING), "digits": 0, "prompts": [],
                           "end_reason": "ended"})


def session_context(base: CallContext, *, identity_attempts: int, time_limit_s: int) -> CallContext:
    """The call rules' context for a channel off the phone: no agent line (nor the human-first rule, which
    needs one), the channel's identity attempts and time limit, turns rendered as JSON."""
    settings = base.settings
    settings = dataclasses.replace(
        settings,
        ivr=dataclasses.replace(settings.ivr, agent_target="", max_call_seconds=time_limit_s),
        questionnaire=dataclasses.replace(settings.questionnaire, identity_attempts=identity_attempts))
    return CallContext(settings=settings, clock=base.clock, calendar=base.calendar, library=base.library,
                       responder=JsonResponder(settings.questionnaire.hotline), prompts=base.prompts,
                       engines=EngineCache())


def new_session_id(channel: CallbackChannel) -> str:
    return PREFIX[channel] + secrets.token_hex(16)


def open_session(session: Session, ctx: CallContext, task: CallbackTask, channel: CallbackChannel, *,
                 detail: dict[str, Any]) -> Call:
    """Start the policy's flow for a task on `channel` (queued; the task row locked by the caller). The first
    turn is the call's `last_twiml` (JSON)."""
    if channel not in PREFIX:
        raise CallConflict(f"{channel} is not a questionnaire off the phone")
    if task.channel is not channel:
        raise CallConflict(f"task {task.id} is on {task.channel}, not {channel}")
    if task.status not in STARTABLE:
        raise CallConflict(f"task {task.id} is {task.status}: no questionnaire can start")
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    now = ctx.clock.now()
    try:
        engine = ctx.engine(session, task, policy)
    except (FlowNotFound, ValueError) as exc:
        raise CallConflict(f"task {task.id}: {exc}") from exc
    call = call_repo.create(session, call_sid=new_session_id(channel), task_id=task.id, policy_id=policy.id, now=now)
    flow = engine.flow
    call.channel, call.twilio_status, call.answered_at = channel, "in-progress", now
    call.flow_id, call.flow_version, call.flow_hash, call.language = flow.id, flow.version, flow.content_hash, flow.language
    call.outcome = CallOutcome.IN_PROGRESS
    state, turn = engine.start()
    started = {"who": "web", "kind": "status", "text": "started",
               "detail": {**detail, "channel": str(channel), "flow": flow.id, "version": flow.version,
                          "hash": flow.content_hash}}
    service.respond(session, ctx, service.Loaded(call, task, policy, engine), state, turn, now, [started])
    return call


def current(call: Call) -> dict[str, Any]:
    """The turn the session is at (what the page shows now)."""
    document: dict[str, Any] = json.loads(call.last_twiml or JsonResponder().hangup())
    return document


def answer(session: Session, ctx: CallContext, call_sid: str, seq: int, value: str,
           detail: dict[str, Any]) -> dict[str, Any]:
    """The applicant's answer (yes | no | human) to turn `seq`; the next turn. A turn answered again gets the
    turn it got the first time; an older one is refused (CallConflict), as on the phone."""
    kind = ANSWERS.get(value)
    if kind is None:
        raise CallConflict(f"answer: {value!r} is not one of {', '.join(ANSWERS)}")
    return json.loads(service.advance(session, ctx, call_sid, seq, Heard(CallerInput(kind, text=value), detail, WHO)))


def identify(session: Session, ctx: CallContext, call_sid: str, seq: int, birth_date: date,
             detail: dict[str, Any]) -> dict[str, Any]:
    """The identity form: the applicant, who opened their own link and confirms being the applicant, gives a
    birth date. The flow's presence question (您是…本人吗) before the birthday check is answered yes by that
    confirmation; the birthday check is answered with the birth date's digits, judged by the engine's own rule
    (month and day) with the channel's attempts."""
    call = _call(session, call_sid)
    doc = current(call)
    if seq != doc["seq"]:
        doc = json.loads(service.advance(session, ctx, call_sid, seq, _digits(birth_date, detail)))  # replay/stale
        return doc
    loaded = service.load(session, ctx, call_sid)
    state = loaded.state
    if state.identity_verified or state.end_reason is not None:
        raise CallConflict(f"session {call_sid}: identity is verified already (or the questionnaire has ended)")
    if state.turns == 0:  # the time limit runs from the first answer: waiting for an SMS code does not count
        loaded.call.answered_at = ctx.clock.now()
    step = loaded.engine.flow.step(state.plan[state.index]) if state.index < len(state.plan) else None
    if (step is not None and step.kind is not StepKind.VERIFY_BIRTHDAY and step.topic is not None
            and step.topic.value == "identity" and doc["expect"] == str(Expect.YES_NO)):
        confirmed = Heard(CallerInput(InputKind.YES, text="本人确认"), {**detail, "via": "identity_form"}, WHO)
        doc = json.loads(service.advance(session, ctx, call_sid, seq, confirmed))
        seq = doc["seq"]
        if doc["expect"] != str(Expect.DIGITS):
            return doc
    return json.loads(service.advance(session, ctx, call_sid, seq, _digits(birth_date, detail)))


def verified(call: Call) -> bool:
    return bool(call.state and call.state.get("identity_verified"))


def ended(call: Call) -> bool:
    return call.end_reason is not None


def _digits(birth_date: date, detail: dict[str, Any]) -> Heard:
    return Heard(CallerInput(InputKind.DIGITS, digits=f"{birth_date:%m%d}", text=birth_date.isoformat()), detail, WHO)


def _call(session: Session, call_sid: str) -> Call:
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None:
        raise UnknownCall(f"unknown session {call_sid!r}")
    return call
