"""A call's life: start the flow on answer, advance it on each input, hand off, end, classify.

Each function runs inside the caller's transaction (the call's row locked while it runs, so any process can
serve any request) and returns the document the channel plays next (`CallContext.responder`: TwiML for
Twilio). Every turn carries its number: a turn delivered again gets the document it got the first time and
changes nothing; an older turn is refused (`CallConflict`). `advance` is the one entry point for an answer,
whoever drives the call: a webhook, a WebSocket worker or a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from calls.context import CallContext
from calls.errors import CallConflict, OutcomeFinal, UnknownCall
from calls.inputs import Answered, DialResult, Heard
from calls.results import apply_result
from flows.classify import Classification, classify
from flows.engine import CallerInput, CallState, FlowEngine, InputKind, Phase, Turn
from flows.library import FlowNotFound
from flows.model import EndReason
from kit.vocab import AgentOutcome, CallOutcome, HandoffReason, TaskStatus
from storage.db import unit_of_work
from storage.models import Call, CallbackTask, Policy
from storage.repositories import calls as call_repo
from tasks.lifecycle import TaskEvent, allowed, apply, call_lease

FALLBACK_ANSWERED, FALLBACK_FAILED = "answered", "failed"  # the text of a call's `fallback` events
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


@dataclass
class Loaded:
    """A call with its task, policy and a flow engine for it."""

    call: Call
    task: CallbackTask
    policy: Policy
    engine: FlowEngine

    @property
    def state(self) -> CallState:
        assert self.call.state is not None
        return CallState.from_dict(self.call.state)


def register(session: Session, call_sid: str, task_id: int | None, now: datetime, *, to: str = "",
             from_: str = "") -> Call:
    """A call first named by a webhook, before the dialer's own registration has committed (Twilio may be
    quicker than the dialer's commit after placing it). Only a task whose placement is under way (dialing,
    no call registered since its claim) may take a call this way: a CallSid the task did not place is refused
    and changes nothing."""
    if task_id is None:
        raise UnknownCall(f"unknown CallSid {call_sid!r} and no task parameter to attach it to")
    task = session.get(CallbackTask, task_id, with_for_update=True)
    if task is None:
        raise UnknownCall(f"unknown task {task_id}")
    claimed_at = task.claimed_at if task.status is TaskStatus.DIALING else None
    if claimed_at is None or call_repo.registered_since(session, task.id, claimed_at) is not None:
        raise UnknownCall(f"CallSid {call_sid!r} was not placed for task {task_id}: refused")
    call = call_repo.create(session, call_sid=call_sid, task_id=task.id, policy_id=task.policy_id, now=now)
    call.dialled_number, call.caller_id = to or None, from_ or None
    return call


def attach(session: Session, call_sid: str, task_id: int | None, now: datetime, *, to: str = "",
           from_: str = "") -> Call:
    """The call a webhook names (its row locked): one the dialer registered, for the task the webhook names
    when it names one; else `register` decides whether the task is placing it right now."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None:
        return register(session, call_sid, task_id, now, to=to, from_=from_)
    if task_id is not None and call.task_id != task_id:
        raise UnknownCall(f"CallSid {call_sid!r} was not placed for task {task_id}: refused")
    return call


def load(session: Session, ctx: CallContext, call_sid: str) -> Loaded:
    """The call (its row locked) with its task, policy and engine; the flow must have started."""
    row = call_repo.with_task_and_policy(session, call_sid)
    if row is None:
        raise UnknownCall(f"unknown CallSid {call_sid!r}")
    call, task, policy = row
    if call.state is None:
        raise CallConflict(f"call {call_sid} has not started a flow (no answered-call webhook was taken)")
    return Loaded(call, task, policy, ctx.engine(session, task, policy, call.flow_id))


def prompt_texts(session: Session, ctx: CallContext, task_id: int) -> tuple[list[str], str]:
    """Everything a call for this task may say, and its language."""
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise UnknownCall(f"unknown task {task_id}")
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    engine = ctx.engine(session, task, policy)
    return engine.prompt_texts(), engine.flow.language


def prepare(sessions: sessionmaker[Session], ctx: CallContext, task_id: int) -> int:
    """Render everything a call for this task may say, before dialing (so no webhook waits for TTS). The
    texts are read in a short transaction; rendering happens after it has ended (no lock held meanwhile)."""
    with unit_of_work(sessions) as session:
        texts, language = prompt_texts(session, ctx, task_id)
    return ctx.prompts.prepare(texts, language)


def start(session: Session, ctx: CallContext, answered: Answered) -> str:
    """The call was answered: hang up on a machine, else start the policy's flow."""
    now = ctx.clock.now()
    call_sid = answered.call_sid
    call = attach(session, call_sid, answered.task_id, now, to=answered.to, from_=answered.from_)
    if call.turn_seq > 0:  # the answered-call report delivered again
        return call.last_twiml or ctx.responder.hangup()
    task = session.get(CallbackTask, call.task_id)
    policy = session.get(Policy, call.policy_id)
    assert task is not None
    assert policy is not None
    call.answered_at = call.answered_at or now
    call.answered_by = answered.answered_by or None
    call.updated_at = now
    if call.answered_by in MACHINE:
        call.outcome = CallOutcome.MACHINE
        call.turn_seq = 1
        call.last_twiml = ctx.responder.hangup()
        call_repo.add_events(session, call, now, [{"who": "twilio", "kind": "status", "text": "machine",
                                                    "detail": {"AnsweredBy": call.answered_by}}])
        return call.last_twiml
    try:
        engine = ctx.engine(session, task, policy)
    except (FlowNotFound, ValueError) as exc:
        raise CallConflict(f"call {call_sid}: {exc}") from exc
    flow = engine.flow
    call.flow_id, call.flow_version, call.flow_hash, call.language = flow.id, flow.version, flow.content_hash, flow.language
    call.outcome = CallOutcome.IN_PROGRESS
    call.capture = ctx.capture or None
    if allowed(task.status, TaskEvent.ANSWERED):  # else (a test call on a finished task): the task stays as it is
        apply(task, TaskEvent.ANSWERED, now, claimed_by=task.claimed_by or f"call:{call_sid}",
              lease_until=now + call_lease(ctx.settings.ivr.max_call_seconds))
    state, turn = engine.start()
    loaded = Loaded(call, task, policy, engine)
    started = {"who": "twilio", "kind": "status", "text": "answered",
               "detail": {"flow": flow.id, "version": flow.version, "hash": flow.content_hash,
                          "AnsweredBy": call.answered_by}}
    return respond(session, ctx, loaded, state, turn, now, [started])


def is_current(session: Session, call_sid: str, seq: int) -> bool:
    """Whether turn `seq` is the call's current one (checked before the slow work of fetching audio)."""
    return call_repo.turn_of(session, call_sid) == (seq, False)


def advance(session: Session, ctx: CallContext, call_sid: str, seq: int, heard: Heard) -> str:
    """An input (recognised speech, keys, no input, a hang-up) to turn `seq`: the one entry point."""
    now = ctx.clock.now()
    loaded = _turn(session, ctx, call_sid, seq)
    if isinstance(loaded, str):
        return loaded
    state = loaded.state
    engine = loaded.engine
    topic = engine.flow.step(state.plan[state.index]).topic if state.index < len(state.plan) else None
    detail: dict[str, Any] = {**heard.detail, "input": str(heard.input.kind), "digits": heard.input.digits}
    heard_event = {"who": heard.who, "kind": "answer", "topic": str(topic) if topic else None,
                   "text": heard.input.text, "detail": detail}
    call = loaded.call
    limit = ctx.settings.ivr.max_call_seconds  # 0: none (the e-callback's page: its link's expiry bounds it)
    if limit and call.answered_at is not None and now - call.answered_at > timedelta(seconds=limit):
        state, turn = engine.time_out(state)
        detail["time_limit"] = ctx.settings.ivr.max_call_seconds
    else:
        verified_before = state.identity_verified
        state, turn = engine.step(state, heard.input)
        if not verified_before and state.identity_verified and _human_first(ctx, engine.facts.applicant_age, turn):
            state, turn = engine.hand_off(state)
    events = [heard_event]
    if turn.handoff_topic is not None and not ctx.settings.ivr.agent_target:
        events.append({"who": "robot", "kind": "handoff", "topic": turn.handoff_topic,
                       "detail": {"agent": "", "DialCallStatus": "no agent line configured"}})
        call.handoff_topic = turn.handoff_topic
        call.handoff_reason = handoff_reason(state, turn.handoff_topic)
        state, turn = engine.step(state, CallerInput(InputKind.AGENT_UNAVAILABLE))
    if turn.ended and heard.input.kind is InputKind.HANGUP:
        return _hung_up(session, ctx, loaded, state, now, events)
    return respond(session, ctx, loaded, state, turn, now, events)


def dial_ended(session: Session, ctx: CallContext, seq: int, result: DialResult) -> str:
    """The transfer to an agent ended: connected → the call is handed off; otherwise the flow goes on."""
    now = ctx.clock.now()
    loaded = _turn(session, ctx, result.call_sid, seq)
    if isinstance(loaded, str):
        return loaded
    state = loaded.state
    if state.phase is not Phase.HANDOFF:
        raise CallConflict(f"call {result.call_sid} is not being handed off")
    connected = result.status in ("completed", "answered")
    kind = InputKind.TRANSFERRED if connected else InputKind.AGENT_UNAVAILABLE
    state, turn = loaded.engine.step(state, CallerInput(kind))
    event = {"who": "twilio", "kind": "dial", "topic": loaded.call.handoff_topic, "text": result.status,
             "detail": result.detail}
    return respond(session, ctx, loaded, state, turn, now, [event])


def message(session: Session, ctx: CallContext, call_sid: str, seq: int, detail: dict[str, str]) -> str:
    """A short message left before the end (e.g. when to call the applicant back): kept with the call."""
    now = ctx.clock.now()
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is None:
        raise UnknownCall(f"unknown CallSid {call_sid!r}")
    if seq == call.turn_seq:
        call.turn_seq += 1
        call.last_twiml = ctx.responder.hangup()
        call_repo.add_events(session, call, now, [{"who": "caller", "kind": "message", "text": "", "detail": detail}])
    return ctx.responder.hangup()


def fell_back(session: Session, ctx: CallContext, call_sid: str, error_code: str, error_url: str, *,
              answered: bool) -> None:
    """Twilio requested the call's fallback URL because a webhook failed; kept with the call's record, with
    whether the fallback answered. A fallback that failed (5xx) ends the call with Twilio's application error
    (docs/twilio-facts.md §2.10): its end is then not taken for the caller's hang-up (calls.status)."""
    call = call_repo.by_sid(session, call_sid, lock=True)
    if call is not None:
        call_repo.add_events(session, call, ctx.clock.now(), [{
            "who": "twilio", "kind": "fallback", "text": FALLBACK_ANSWERED if answered else FALLBACK_FAILED,
            "detail": {"ErrorCode": error_code, "ErrorUrl": error_url}}])


def agent_outcome(session: Session, ctx: CallContext, call_sid: str, outcome: AgentOutcome, note: str) -> Loaded:
    """The agent's word on a handed-off call; the classification is finished (or redone) with it.

    The one place for the rule, whoever reports it (the agent's link, the console's agent desk): the outcome
    may be given, or corrected, while the call goes on; once the call has ended and been classified with an
    outcome, that outcome is final. The same outcome again changes nothing; another is refused (OutcomeFinal):
    a later change of mind goes through the call's case, where it is recorded as a handling action."""
    now = ctx.clock.now()
    loaded = load(session, ctx, call_sid)
    call = loaded.call
    if call.handoff_topic is None:
        raise CallConflict(f"call {call_sid} was not handed to an agent")
    if call.agent_outcome is outcome:
        return loaded  # the same report again
    if call.agent_outcome is not None and call.finished_at is not None:
        raise OutcomeFinal(f"the agent's outcome of call {call_sid} is final ({call.agent_outcome}); a change goes "
                           "through the call's case")
    call.agent_outcome = outcome
    call.updated_at = now
    call_repo.add_events(session, call, now, [{"who": "agent", "kind": "outcome", "topic": call.handoff_topic,
                                               "text": note, "detail": {"outcome": str(outcome)}}])
    state = loaded.state
    if state.end_reason is not None:
        finish(session, ctx, loaded, state, now, call.outcome, note=f"agent: {outcome}")
    return loaded


def hung_up_during(session: Session, ctx: CallContext, loaded: Loaded, now: datetime) -> None:
    """The provider reports the call completed while its flow had not ended: a hang-up, classified now."""
    state = loaded.state
    if state.end_reason is None:
        state, _ = loaded.engine.step(state, CallerInput(InputKind.HANGUP))
        loaded.call.state = state.to_dict()
        loaded.call.last_twiml = None
    outcome = CallOutcome.HANGUP if state.end_reason is EndReason.HANGUP else CallOutcome.COMPLETED
    finish(session, ctx, loaded, state, now, outcome)


# -- the pieces every input shares ------------------------------------------------------------------


def _turn(session: Session, ctx: CallContext, call_sid: str, seq: int) -> Loaded | str:
    """The call at turn `seq`, or the document to answer a repeated or late delivery with."""
    loaded = load(session, ctx, call_sid)
    call = loaded.call
    if seq == call.turn_seq - 1 and call.last_twiml:
        return call.last_twiml  # the same turn again: same answer, nothing changes
    if seq != call.turn_seq:
        raise CallConflict(f"turn {seq} of call {call_sid} is stale (the call is at turn {call.turn_seq})")
    if call.end_reason is not None or loaded.state.end_reason is not None:
        return ctx.responder.hangup()
    return loaded


def _human_first(ctx: CallContext, age: int, turn: Turn) -> bool:
    """A policy rule (ivr.human_first_min_age) sends this applicant to a person right after identity."""
    ivr = ctx.settings.ivr
    return (bool(ivr.human_first_min_age) and age >= ivr.human_first_min_age and bool(ivr.agent_target)
            and not turn.ended and turn.handoff_topic is None)


def _hung_up(session: Session, ctx: CallContext, loaded: Loaded, state: CallState, now: datetime,
             events: list[dict[str, Any]]) -> str:
    call = loaded.call
    call.turn_seq += 1
    call.state = state.to_dict()
    call.last_twiml = ctx.responder.hangup()
    call_repo.add_events(session, call, now, events)
    finish(session, ctx, loaded, state, now, CallOutcome.HANGUP)
    return call.last_twiml


def respond(session: Session, ctx: CallContext, loaded: Loaded, state: CallState, turn: Turn, now: datetime,
            events: list[dict[str, Any]]) -> str:
    """Store the new state, log what is said, and return the document for it (kept for a repeated delivery)."""
    call = loaded.call
    call.turn_seq += 1
    call.state = state.to_dict()
    call.updated_at = now
    events = [*events, *({"who": "robot", "kind": "prompt", "topic": p.topic, "text": p.text,
                          "detail": {"step": p.step_id, "role": p.role}} for p in turn.prompts)]
    if turn.handoff_topic is not None:
        call.handoff_topic = turn.handoff_topic
        call.handoff_reason = handoff_reason(state, turn.handoff_topic)
        call.handoff_target = ctx.settings.ivr.agent_target  # whose agent desk shows the call (users.agent_line)
        events.append({"who": "robot", "kind": "handoff", "topic": turn.handoff_topic,
                       "detail": {"agent": ctx.settings.ivr.agent_target}})
    call.speech_seq = call.turn_seq if turn.takes_speech else None
    document = ctx.responder.turn(turn, loaded.engine.flow.language, call.turn_seq, call)
    call.last_twiml = document
    call_repo.add_events(session, call, now, events)
    if turn.ended:
        finish(session, ctx, loaded, state, now, CallOutcome.COMPLETED)
    return document


def handoff_reason(state: CallState, topic: str) -> HandoffReason:
    if state.handoff_forced:
        return HandoffReason.HUMAN_FIRST
    return HandoffReason.ASKED if state.answers.get(topic) == "human_requested" else HandoffReason.UNRESOLVED


def answers_with_agent(call: Call, state: CallState) -> dict[str, str]:
    """The robot's answers, with the hand-off topic as the agent left it.

    Clarified: a topic the caller had doubts about is `clarified`; one a rule sent to the agent before it
    was asked is `yes`. Not clarified (or not reported yet, for a rule's hand-off): the caller's doubt stands
    (`unresolved` / `human_requested`), and a rule's hand-off counts as `human_requested`.
    """
    answers = dict(state.answers)
    topic = call.handoff_topic
    if topic is None or state.end_reason is not EndReason.HANDED_OFF:
        return answers
    forced = call.handoff_reason == HandoffReason.HUMAN_FIRST
    if call.agent_outcome is AgentOutcome.CLARIFIED:
        answers[topic] = "yes" if forced else "clarified"
    elif forced:
        answers[topic] = "human_requested"
    return answers


def finish(session: Session, ctx: CallContext, loaded: Loaded, state: CallState, now: datetime,
           outcome: CallOutcome, note: str = "") -> None:
    """Classify the ended flow and apply the result (again, after an agent's outcome)."""
    call = loaded.call
    assert state.end_reason is not None
    call.end_reason = state.end_reason
    call.outcome = outcome
    reclassify(session, ctx, loaded, answers_with_agent(call, state), state, now, note=note or f"call {call.call_sid}")


def reclassify(session: Session, ctx: CallContext, loaded: Loaded, answers: Mapping[str, str], state: CallState,
               now: datetime, *, note: str) -> Classification:
    """Classify the ended call from these answers and apply the result to the call, its task and the cases: the
    one path for a call's end, an agent's outcome and a quality review's corrections (calls.review)."""
    assert state.end_reason is not None
    result = classify(answers, state.end_reason, state.identity_verified)
    apply_result(session, loaded.call, loaded.task, loaded.policy, result, end_reason=state.end_reason, now=now,
                 settings=ctx.settings, rules=ctx.rules, note=note)
    return result
