"""What the webhooks need, built once per process, and the pieces every webhook shares."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from hashlib import sha256
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from dialer.hours import CallingRules
from flows.classify import classify
from flows.engine import CallState, EngineLimits, FlowEngine, Turn
from flows.library import FlowLibrary
from flows.model import EndReason
from ivr.capture import AnswerCapture
from ivr.facts import policy_facts
from ivr.prompts import PromptIndex
from ivr.results import apply_result
from ivr.twiml import TurnUrls, render_turn
from kit.calendar import BusinessCalendar
from kit.clock import Clock, business_today
from kit.settings import Settings
from kit.vocab import AgentOutcome, CallOutcome
from recordings.downloader import Downloader
from recordings.media import MediaClient
from recordings.store import RecordingStore
from storage.models import Agent, Call, CallbackTask, Policy
from storage.repositories import calls as call_repo


class IvrError(Exception):
    """A request the IVR cannot take; `status` is the HTTP status, the message is the response body."""

    status = 400


class NotFound(IvrError):
    status = 404


class Conflict(IvrError):
    status = 409


@dataclass
class IvrServices:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]
    library: FlowLibrary
    prompts: PromptIndex
    capture: AnswerCapture
    media: MediaClient
    files: RecordingStore
    engines: dict[tuple[object, ...], FlowEngine] = field(default_factory=dict)

    @cached_property
    def rules(self) -> CallingRules:
        return CallingRules.from_settings(self.settings.dialer, self.calendar)

    @property
    def downloader(self) -> Downloader:
        """Recording downloads: claim, download with no transaction open, finish."""
        return Downloader(sessions=self.sessions, media=self.media, files=self.files, clock=self.clock,
                          settings=self.settings.recordings)

    @property
    def limits(self) -> EngineLimits:
        q = self.settings.questionnaire
        return EngineLimits(max_reprompts=q.max_reprompts, identity_attempts=q.identity_attempts,
                            max_turns=q.max_turns)

    def agent_token(self, call_sid: str) -> str:
        """The capability in an agent's link to a call's context page."""
        secret = self.settings.ivr.agent_page_secret or sha256(
            ("agent-page:" + self.settings.twilio.auth_token).encode()).hexdigest()
        return hmac.new(secret.encode(), call_sid.encode(), sha256).hexdigest()[:32]

    def urls(self, seq: int) -> TurnUrls:
        base = f"{self.settings.ivr.public_base_url}/twilio/voice"
        return TurnUrls(answer=f"{base}/turn?seq={seq}", no_input=f"{base}/turn?seq={seq}&no_input=1",
                        dial=f"{base}/dial?seq={seq}", message=f"{base}/message?seq={seq}")


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


def build_engine(session: Session, svc: IvrServices, task: CallbackTask, policy: Policy,
                 flow_id: str | None = None) -> FlowEngine:
    """The flow engine for this policy today; kept between the webhooks of a call (its facts do not change
    unless the policy, its agent or the day does, and all of those are in the key)."""
    today = business_today(svc.clock)
    key = (policy.id, policy.updated_at, policy.agent_id, str(task.questionnaire_variant), flow_id, today)
    engine = svc.engines.get(key)
    if engine is None:
        engine = _build_engine(session, svc, task, policy, flow_id)
        svc.engines[key] = engine
        while len(svc.engines) > ENGINE_CACHE:
            svc.engines.pop(next(iter(svc.engines)))
    return engine


ENGINE_CACHE = 4096  # engines kept per process (a few calls' worth each)


def _build_engine(session: Session, svc: IvrServices, task: CallbackTask, policy: Policy,
                  flow_id: str | None) -> FlowEngine:
    agent = session.get(Agent, policy.agent_id)
    assert agent is not None  # a foreign key
    facts = policy_facts(policy, task, agent, business_today(svc.clock), svc.settings.questionnaire)
    flow = svc.library.flows.get(flow_id) if flow_id else svc.library.select(facts)
    if flow is None:
        raise Conflict(f"flow {flow_id!r} of this call is no longer in the library")
    return FlowEngine(flow, facts, svc.library.messages[flow.language], svc.limits)


def load(session: Session, svc: IvrServices, call_sid: str) -> Loaded:
    row = call_repo.with_task_and_policy(session, call_sid)
    if row is None:
        raise NotFound(f"unknown CallSid {call_sid!r}")
    call, task, policy = row
    if call.state is None:
        raise Conflict(f"call {call_sid} has not started a flow (no answered-call webhook was taken)")
    return Loaded(call, task, policy, build_engine(session, svc, task, policy, call.flow_id))


def respond(session: Session, svc: IvrServices, loaded: Loaded, state: CallState, turn: Turn, now: datetime,
            events: list[dict[str, Any]]) -> str:
    """Store the new state, log what is said, and return the TwiML for it (kept for a repeated delivery)."""
    call = loaded.call
    call.turn_seq += 1
    call.state = state.to_dict()
    call.updated_at = now
    language = loaded.engine.flow.language
    urls = [svc.prompts.url(p.text, language) for p in turn.prompts]
    events = [*events, *({"who": "robot", "kind": "prompt", "topic": p.topic, "text": p.text,
                          "detail": {"step": p.step_id, "role": p.role}} for p in turn.prompts)]
    if turn.handoff_topic is not None:
        call.handoff_topic = turn.handoff_topic
        call.handoff_reason = handoff_reason(state, turn.handoff_topic)
        events.append({"who": "robot", "kind": "handoff", "topic": turn.handoff_topic,
                       "detail": {"agent": svc.settings.ivr.agent_target}})
    twiml = render_turn(turn, urls, svc.urls(call.turn_seq), svc.capture, svc.settings.ivr)
    call.last_twiml = twiml
    call_repo.add_events(session, call, now, events)
    if turn.ended:
        finish(session, svc, loaded, state, now, CallOutcome.COMPLETED)
    return twiml


def handoff_reason(state: CallState, topic: str) -> str:
    if state.handoff_forced:
        return "human_first"
    return "asked" if state.answers.get(topic) == "human_requested" else "unresolved"


def answers_with_agent(call: Call, state: CallState) -> dict[str, str]:
    """The robot's answers, with the hand-off topic as the agent left it.

    Clarified: a topic the caller had doubts about is `clarified`; one a rule sent to the agent before it
    was asked is `yes`. Not clarified (or not reported yet, for a rule's hand-off): the caller's doubt stands
    (`unresolved` / `human_requested`), and a rule's hand-off counts as `human_requested`.
    """
    answers = dict(state.answers)
    topic = call.handoff_topic
    if topic is None or state.end_reason != EndReason.HANDED_OFF:
        return answers
    forced = call.handoff_reason == "human_first"
    if call.agent_outcome is AgentOutcome.CLARIFIED:
        answers[topic] = "yes" if forced else "clarified"
    elif forced:
        answers[topic] = "human_requested"
    return answers


def finish(session: Session, svc: IvrServices, loaded: Loaded, state: CallState, now: datetime,
           outcome: CallOutcome, note: str = "") -> None:
    """Classify the ended flow and apply the result (again, after an agent's outcome)."""
    call = loaded.call
    assert state.end_reason is not None
    call.end_reason = state.end_reason
    call.outcome = outcome
    result = classify(answers_with_agent(call, state), EndReason(state.end_reason), state.identity_verified)
    apply_result(session, call, loaded.task, loaded.policy, result, end_reason=EndReason(state.end_reason), now=now,
                 settings=svc.settings, rules=svc.rules, note=note or f"call {call.call_sid}")
