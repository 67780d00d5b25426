"""The voice webhooks' work: start the flow on answer, advance it on each answer, hand off, end.

Each function runs inside the caller's transaction and returns TwiML. Every turn's URLs carry the turn
number: a turn delivered again gets the TwiML it got the first time and changes nothing; an older turn is
refused (409). The call row is locked while a turn is taken, so any web process can serve any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from flows.engine import CallerInput, InputKind, Turn
from flows.library import FlowNotFound
from ivr.capture import Heard
from ivr.services import (
    Conflict,
    IvrError,
    IvrServices,
    Loaded,
    NotFound,
    build_engine,
    finish,
    handoff_reason,
    load,
    respond,
)
from ivr.status import register, require
from ivr.twiml import hangup
from kit.vocab import AgentOutcome, CallOutcome, TaskStatus
from storage.models import CallbackTask, Policy
from storage.repositories import calls as call_repo

MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def prepare(session: Session, svc: IvrServices, task_id: int) -> int:
    """Render everything a call for this task may say, before dialing (so no webhook waits for TTS)."""
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise NotFound(f"unknown task {task_id}")
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    engine = build_engine(session, svc, task, policy)
    return svc.prompts.prepare(engine.prompt_texts(), engine.flow.language)


def start(session: Session, svc: IvrServices, form: Mapping[str, str], task_id: int | None) -> str:
    """The answered-call webhook: hang up on a machine, else start the policy's flow."""
    call_sid = require(form, "CallSid")
    now = svc.clock.now()
    call = call_repo.by_sid(session, call_sid, lock=True) or register(session, svc, call_sid, task_id, now)
    if call.turn_seq > 0:  # Twilio delivered the answered-call webhook again
        return call.last_twiml or hangup()
    task = session.get(CallbackTask, call.task_id)
    policy = session.get(Policy, call.policy_id)
    assert task is not None
    assert policy is not None
    call.answered_at = call.answered_at or now
    call.answered_by = form.get("AnsweredBy") or None
    call.updated_at = now
    if call.answered_by in MACHINE:
        call.outcome = CallOutcome.MACHINE
        call.turn_seq = 1
        call.last_twiml = hangup()
        call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "status", "text": "machine",
                                                    "detail": {"AnsweredBy": call.answered_by}}])
        return call.last_twiml
    try:
        engine = build_engine(session, svc, task, policy)
    except (FlowNotFound, ValueError) as exc:
        raise Conflict(f"call {call_sid}: {exc}") from exc
    flow = engine.flow
    call.flow_id, call.flow_version, call.flow_hash, call.language = flow.id, flow.version, flow.content_hash, flow.language
    call.outcome = CallOutcome.IN_PROGRESS
    task.status, task.updated_at = TaskStatus.IN_PROGRESS, now
    state, turn = engine.start()
    loaded = Loaded(call, task, policy, engine)
    started = {"who": "twilio", "kind": "status", "text": "answered",
               "detail": {"flow": flow.id, "version": flow.version, "hash": flow.content_hash,
                          "AnsweredBy": call.answered_by}}
    return respond(session, svc, loaded, state, turn, now, [started])


def _turn(session: Session, svc: IvrServices, call_sid: str, seq: int) -> Loaded | str:
    """The call at turn `seq`, or the TwiML to answer a repeated or late delivery with."""
    loaded = load(session, svc, call_sid)
    call = loaded.call
    if seq == call.turn_seq - 1 and call.last_twiml:
        return call.last_twiml  # the same turn again: same answer, nothing changes
    if seq != call.turn_seq:
        raise Conflict(f"turn {seq} of call {call_sid} is stale (the call is at turn {call.turn_seq})")
    if call.end_reason is not None or loaded.state.end_reason is not None:
        return hangup()
    return loaded


def is_current(session: Session, svc: IvrServices, call_sid: str, seq: int) -> bool:
    """Whether turn `seq` is the call's current one (checked before the slow work of fetching audio)."""
    return call_repo.turn_of(session, call_sid) == (seq, False)


def answer(session: Session, svc: IvrServices, call_sid: str, seq: int, heard: Heard) -> str:
    """An answer (recognised speech, keys, or no input) to turn `seq`."""
    now = svc.clock.now()
    loaded = _turn(session, svc, call_sid, seq)
    if isinstance(loaded, str):
        return loaded
    state = loaded.state
    engine = loaded.engine
    topic = engine.flow.step(state.plan[state.index]).topic if state.index < len(state.plan) else None
    detail: dict[str, Any] = {**heard.detail, "input": str(heard.input.kind), "digits": heard.input.digits}
    heard_event = {"who": "caller", "kind": "answer", "topic": str(topic) if topic else None,
                   "text": heard.input.text, "detail": detail}
    call = loaded.call
    if call.answered_at is not None and now - call.answered_at > timedelta(seconds=svc.settings.ivr.max_call_seconds):
        state, turn = engine.time_out(state)
        detail["time_limit"] = svc.settings.ivr.max_call_seconds
    else:
        verified_before = state.identity_verified
        state, turn = engine.step(state, heard.input)
        if not verified_before and state.identity_verified and _human_first(svc, engine.facts.applicant_age, turn):
            state, turn = engine.hand_off(state)
    events = [heard_event]
    if turn.handoff_topic is not None and not svc.settings.ivr.agent_target:
        events.append({"who": "robot", "kind": "handoff", "topic": turn.handoff_topic,
                       "detail": {"agent": "", "DialCallStatus": "no agent line configured"}})
        call.handoff_topic = turn.handoff_topic
        call.handoff_reason = handoff_reason(state, turn.handoff_topic)
        state, turn = engine.step(state, CallerInput(InputKind.AGENT_UNAVAILABLE))
    if turn.ended and heard.input.kind is InputKind.HANGUP:
        return _hung_up(session, svc, loaded, state, now, events)
    return respond(session, svc, loaded, state, turn, now, events)


def _human_first(svc: IvrServices, age: int, turn: Turn) -> bool:
    """A policy rule (ivr.human_first_min_age) sends this applicant to a person right after identity."""
    ivr = svc.settings.ivr
    return (bool(ivr.human_first_min_age) and age >= ivr.human_first_min_age and bool(ivr.agent_target)
            and not turn.ended and turn.handoff_topic is None)


def _hung_up(session: Session, svc: IvrServices, loaded: Loaded, state: Any, now: datetime,
             events: list[dict[str, Any]]) -> str:
    call = loaded.call
    call.turn_seq += 1
    call.state = state.to_dict()
    call.last_twiml = hangup()
    call_repo.add_events(session, call, now, events)
    finish(session, svc, loaded, state, now, CallOutcome.HANGUP)
    return call.last_twiml


def dial_ended(session: Session, svc: IvrServices, form: Mapping[str, str], seq: int) -> str:
    """The <Dial> to an agent ended: connected → the call is handed off; otherwise the flow goes on."""
    call_sid = require(form, "CallSid")
    status = require(form, "DialCallStatus")
    now = svc.clock.now()
    loaded = _turn(session, svc, call_sid, seq)
    if isinstance(loaded, str):
        return loaded
    state = loaded.state
    if state.phase != "handoff":
        raise Conflict(f"call {call_sid} is not being handed off")
    connected = status in ("completed", "answered")
    kind = InputKind.TRANSFERRED if connected else InputKind.AGENT_UNAVAILABLE
    state, turn = loaded.engine.step(state, CallerInput(kind))
    event = {"who": "twilio", "kind": "dial", "topic": loaded.call.handoff_topic, "text": status,
             "detail": {k: form.get(k, "") for k in ("DialCallStatus", "DialCallSid", "DialCallDuration")}}
    return respond(session, svc, loaded, state, turn, now, [event])


def message(session: Session, svc: IvrServices, form: Mapping[str, str], seq: int) -> str:
    """A short message left before the end (e.g. when to call the applicant back): kept with the call."""
    call_sid = require(form, "CallSid")
    now = svc.clock.now()
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None:
        raise IvrError(f"unknown CallSid {call_sid!r}")
    if seq == call.turn_seq:
        call.turn_seq += 1
        call.last_twiml = hangup()
        call_repo.add_events(session, call, now, [{
            "who": "caller", "kind": "message", "text": "",
            "detail": {k: form.get(k, "") for k in ("RecordingUrl", "RecordingSid", "RecordingDuration")}}])
    return hangup()


def agent_outcome(session: Session, svc: IvrServices, call_sid: str, outcome: AgentOutcome, note: str) -> Loaded:
    """The agent's word on a handed-off call; the classification is finished (or redone) with it."""
    now = svc.clock.now()
    loaded = load(session, svc, call_sid)
    call = loaded.call
    if call.handoff_topic is None:
        raise Conflict(f"call {call_sid} was not handed to an agent")
    if call.agent_outcome is outcome:
        return loaded  # the same report again
    call.agent_outcome = outcome
    call.updated_at = now
    call_repo.add_events(session, call, now, [{"who": "agent", "kind": "outcome", "topic": call.handoff_topic,
                                               "text": note, "detail": {"outcome": str(outcome)}}])
    state = loaded.state
    if state.end_reason is not None:
        finish(session, svc, loaded, state, now, call.outcome, note=f"agent: {outcome}")
    return loaded
