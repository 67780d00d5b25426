"""What a call's operations need, built once per process: settings, the clock, the flow library, a cache of
flow engines, the prompts to prepare, and how a turn is rendered for the channel that drives the call."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Protocol

from sqlalchemy.orm import Session

from calls.errors import CallConflict
from calls.facts import policy_facts
from dialer.hours import CallingRules
from flows.engine import EngineLimits, FlowEngine, Turn
from flows.library import FlowLibrary
from kit.calendar import BusinessCalendar
from kit.clock import Clock, business_today
from kit.settings import Settings
from storage.models import Agent, Call, CallbackTask, Policy

ENGINE_CACHE = 4096  # engines kept per process (a few calls' worth each)


class Responder(Protocol):
    """Renders what the caller hears next for the channel driving the call (TwiML for Twilio webhooks).

    The document is stored with the call and replayed when the same turn is delivered again."""

    def turn(self, turn: Turn, language: str, seq: int, call: Call) -> str:
        """The document for an engine turn; `seq` is the turn number the next input must name; `call` the call
        it is for (its SID and how it takes spoken answers)."""

    def hangup(self) -> str:
        """End the call."""


class PromptPreparer(Protocol):
    def prepare(self, texts: Iterable[str], language: str) -> int:
        """Render what is not cached yet; returns how many were rendered."""


class EngineCache:
    """Flow engines kept between a call's webhooks (thread-safe: many request threads share it)."""

    def __init__(self, size: int = ENGINE_CACHE) -> None:
        self.size = size
        self._engines: OrderedDict[tuple[object, ...], FlowEngine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> FlowEngine | None:
        with self._lock:
            return self._engines.get(key)

    def put(self, key: tuple[object, ...], engine: FlowEngine) -> None:
        with self._lock:
            self._engines[key] = engine
            while len(self._engines) > self.size:
                self._engines.popitem(last=False)

    def __len__(self) -> int:
        return len(self._engines)


@dataclass
class CallContext:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    library: FlowLibrary
    responder: Responder
    prompts: PromptPreparer
    engines: EngineCache = field(default_factory=EngineCache)
    capture: str = ""  # how a new call takes spoken answers: record | stream | keypad ("" off the phone)

    @cached_property
    def rules(self) -> CallingRules:
        return CallingRules.from_settings(self.settings.dialer, self.calendar)

    @property
    def limits(self) -> EngineLimits:
        q = self.settings.questionnaire
        return EngineLimits(max_reprompts=q.max_reprompts, identity_attempts=q.identity_attempts,
                            max_turns=q.max_turns)

    def engine(self, session: Session, task: CallbackTask, policy: Policy, flow_id: str | None = None) -> FlowEngine:
        """The flow engine for this policy today; kept between the webhooks of a call (its facts do not change
        unless the policy, its agent or the day does, and all of those are in the key)."""
        today = business_today(self.clock)
        key = (policy.id, policy.updated_at, policy.agent_id, str(task.questionnaire_variant), flow_id, today)
        engine = self.engines.get(key)
        if engine is None:
            engine = self._build(session, task, policy, flow_id, today)
            self.engines.put(key, engine)
        return engine

    def _build(self, session: Session, task: CallbackTask, policy: Policy, flow_id: str | None,
               today: date) -> FlowEngine:
        agent = session.get(Agent, policy.agent_id)
        assert agent is not None  # a foreign key
        facts = policy_facts(policy, task, agent, today, self.settings.questionnaire)
        flow = self.library.flows.get(flow_id) if flow_id else self.library.select(facts)
        if flow is None:
            raise CallConflict(f"flow {flow_id!r} of this call is no longer in the library")
        return FlowEngine(flow, facts, self.library.messages[flow.language], self.limits)
