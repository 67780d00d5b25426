"""The flow engine: a pure state machine. (state, caller input) → (next state, what to say and expect).

No I/O, no clock, no database: the IVR stores the state between webhooks (CallState.to_dict) and feeds
each recognised answer back in. Every prompt it returns is already rendered for this policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from string import Formatter
from typing import Any

from flows.facts import IMPERSONAL_PLACEHOLDERS, PolicyFacts, condition_values, placeholder_values
from flows.messages import Messages
from flows.model import EndReason, Flow, OnNo, Step, StepKind, matches
from flows.vocab import Topic


class InputKind(StrEnum):
    YES = "yes"
    NO = "no"
    REPEAT = "repeat"
    HUMAN = "human"
    UNKNOWN = "unknown"
    SILENCE = "silence"
    DIGITS = "digits"
    HANGUP = "hangup"
    # what the IVR reports after a hand-off request
    TRANSFERRED = "transferred"
    AGENT_UNAVAILABLE = "agent_unavailable"
    LINK = "link"  # finish by the e-callback SMS link instead (key 9; docs/domain.md §5: the applicant chooses)


@dataclass(frozen=True)
class CallerInput:
    kind: InputKind
    digits: str = ""
    text: str = ""  # the raw recognition, kept for the record


class Expect(StrEnum):
    YES_NO = "yes_no"
    DIGITS = "digits"
    NOTHING = "nothing"


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    CLARIFIED = "clarified"  # no, then yes after the explanation
    UNRESOLVED = "unresolved"  # still no after the explanation
    HUMAN_REQUESTED = "human_requested"  # asked for a person to explain


KEYPAD = {"1": InputKind.YES, "2": InputKind.NO, "0": InputKind.HUMAN, "*": InputKind.REPEAT, "9": InputKind.LINK}


@dataclass(frozen=True)
class EngineLimits:
    max_reprompts: int = 2  # unknown/silence answers re-asked before keypad-only is offered
    identity_attempts: int = 2  # wrong birthdays before the call ends as identity_failed
    max_turns: int = 80  # caller inputs in one call before the engine stops any loop


@dataclass(frozen=True)
class Prompt:
    step_id: str
    topic: str | None
    text: str
    role: str  # question | statement | explanation | system
    personal: bool = False  # says something of this applicant or policy (a name, a date, a sum)


@dataclass(frozen=True)
class Turn:
    prompts: tuple[Prompt, ...]
    expect: Expect
    digits: int = 0  # how many keys, when expect is digits
    keypad_only: bool = False
    handoff_topic: str | None = None  # the IVR should try to transfer to a human now
    end_reason: EndReason | None = None
    record_message: bool = False  # the IVR may record a short answer (e.g. when to call back) before hanging up

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    @property
    def takes_speech(self) -> bool:
        """The caller answers this turn by voice (or a key): a yes/no question, not keypad-only, no hand-off."""
        return (self.expect is Expect.YES_NO and not self.keypad_only and self.handoff_topic is None
                and not self.ended)


@dataclass(frozen=True)
class Scripted:
    """One planned step as written for this policy (FlowEngine.script)."""

    step: Step
    text: str
    explanation: str | None


class Phase(StrEnum):
    """Where a call stands on its current question."""

    ASK = "ask"
    EXPLAINED = "explained"  # the explanation was given after a "no": the question is asked again
    HANDOFF = "handoff"  # being transferred to a person
    ENDED = "ended"


@dataclass(frozen=True)
class CallState:
    flow_id: str
    flow_version: int
    flow_hash: str
    plan: tuple[str, ...]  # the ids of the steps this policy gets, in order
    index: int = 0
    phase: Phase = Phase.ASK
    reprompts: int = 0
    keypad_only: bool = False
    identity_failures: int = 0
    identity_verified: bool = False
    turns: int = 0
    handoff_forced: bool = False  # the hand-off came from a policy rule, not from the caller's answer
    answers: dict[str, str] = field(default_factory=dict)
    end_reason: EndReason | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # flat values: no deep copy needed
        data["plan"] = list(self.plan)
        data["answers"] = dict(self.answers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallState:
        end = data.get("end_reason")
        return cls(**{**data, "plan": tuple(data["plan"]), "answers": dict(data["answers"]),
                      "phase": Phase(data.get("phase", Phase.ASK)), "end_reason": EndReason(end) if end else None})


class FlowEngine:
    def __init__(self, flow: Flow, facts: PolicyFacts, messages: Messages, limits: EngineLimits | None = None) -> None:
        self.flow = flow
        self.facts = facts
        self.messages = messages
        self.limits = limits or EngineLimits()
        self._values = placeholder_values(facts)

    # -- public ---------------------------------------------------------------------------------

    def plan(self) -> tuple[str, ...]:
        values = condition_values(self.facts)
        return tuple(s.id for s in self.flow.steps if matches(s.when, values))

    def prompt_texts(self) -> list[str]:
        """Every text this call may say, rendered for this policy: pre-render them before dialing."""
        planned = set(self.plan())
        steps = [s for s in self.flow.steps if s.id in planned]
        texts = [s.text for s in steps] + [s.explain for s in steps if s.explain]
        texts += list(self.messages.texts.values())
        return list(dict.fromkeys(self._render(text) for text in texts))

    def script(self) -> list[Scripted]:
        """The planned steps in order, each with its text and explanation rendered for this policy: for a
        channel that shows the whole questionnaire at once (a printed letter, a visit's form)."""
        planned = set(self.plan())
        return [Scripted(s, self._render(s.text), self._render(s.explain) if s.explain else None)
                for s in self.flow.steps if s.id in planned]

    def start(self) -> tuple[CallState, Turn]:
        state = CallState(self.flow.id, self.flow.version, self.flow.content_hash, self.plan())
        return self._advance(state, [])

    def step(self, state: CallState, given: CallerInput) -> tuple[CallState, Turn]:
        if state.end_reason is not None:
            raise ValueError("the call has already ended")
        state = replace(state, turns=state.turns + 1)
        if given.kind is InputKind.HANGUP:
            return self._end(state, EndReason.HANGUP, [])
        if state.phase is Phase.HANDOFF:
            return self._after_handoff(state, given)
        if state.turns > self.limits.max_turns:
            return self.time_out(state)
        step = self._current(state)
        kind = self._normalise(given, step)
        if kind is InputKind.REPEAT:
            return state, self._ask(state, step, [])
        if step.kind is StepKind.VERIFY_BIRTHDAY:
            return self._identity(state, step, given, kind)
        if kind is InputKind.LINK:  # only the verified applicant may move the callback to their phone's SMS
            if not state.identity_verified:
                return self._not_understood(state, step)
            return self._end(state, EndReason.LINK_REQUESTED, [self._system("end_link_requested")])
        if kind is InputKind.HUMAN and state.identity_verified and step.topic is not None:
            answers = {**state.answers, step.topic.value: Answer.HUMAN_REQUESTED.value}
            return self._handoff(replace(state, answers=answers))
        if kind is InputKind.YES:
            answer = Answer.CLARIFIED if state.phase is Phase.EXPLAINED else Answer.YES
            return self._next(self._record(state, step, answer), [])
        if kind is InputKind.NO:
            return self._no(state, step)
        return self._not_understood(state, step)

    def again(self, state: CallState) -> Turn:
        """The current question as it stands, asked again with no change of state (the IVR lost the means it
        was listening with, e.g. a failed audio stream); raises when the call is not on a question."""
        if state.end_reason is not None or state.phase is Phase.HANDOFF or state.index >= len(state.plan):
            raise ValueError("the call is not on a question")
        return self._ask(state, self._current(state), [])

    def time_out(self, state: CallState) -> tuple[CallState, Turn]:
        """The call ran past its time limit (the IVR's clock, not the engine's): end it politely."""
        if state.end_reason is not None:
            raise ValueError("the call has already ended")
        return self._end(state, EndReason.LANGUAGE_BARRIER, [self._system("turn_limit")])

    def hand_off(self, state: CallState) -> tuple[CallState, Turn]:
        """Send the caller to a person before the current question (a policy rule, e.g. human-first for
        elderly applicants): only after identity, and the question is asked by the robot if nobody is free."""
        if state.end_reason is not None or state.phase is Phase.HANDOFF:
            raise ValueError("the call has already ended or is being handed off")
        if not state.identity_verified:
            raise ValueError("nothing about the policy may be discussed before identity is verified")
        state = replace(state, phase=Phase.HANDOFF, handoff_forced=True)
        topic = _topic(self._current(state))
        return state, Turn((self._system("human_first"),), Expect.NOTHING, handoff_topic=topic)

    # -- transitions ----------------------------------------------------------------------------

    def _advance(self, state: CallState, prompts: list[Prompt]) -> tuple[CallState, Turn]:
        """Play statements until the next question, or end the call when the plan is done."""
        index = state.index
        while index < len(state.plan):
            step = self.flow.step(state.plan[index])
            if step.kind is StepKind.SAY:
                prompts.append(self._prompt(step.id, step.topic.value if step.topic else None, step.text,
                                            "statement"))
                index += 1
                continue
            state = replace(state, index=index, phase=Phase.ASK, reprompts=0)
            return state, self._ask(state, step, prompts)
        return self._end(replace(state, index=index), EndReason.COMPLETED, prompts)

    def _next(self, state: CallState, prompts: list[Prompt]) -> tuple[CallState, Turn]:
        return self._advance(replace(state, index=state.index + 1, phase=Phase.ASK, reprompts=0), prompts)

    def _no(self, state: CallState, step: Step) -> tuple[CallState, Turn]:
        if step.on_no is OnNo.END:
            assert step.end_reason is not None
            state = self._record(state, step, Answer.NO)
            return self._end(state, step.end_reason, [self._system(f"end_{step.end_reason.value}")],
                             record_message=step.end_reason is EndReason.APPLICANT_ABSENT)
        if step.on_no is OnNo.RECORD:
            return self._next(self._record(state, step, Answer.NO), [])
        if state.phase is Phase.EXPLAINED:
            return self._handoff(self._record(state, step, Answer.UNRESOLVED))
        explanation = self._prompt(step.id, _topic(step), step.explain or "", "explanation")
        state = replace(state, phase=Phase.EXPLAINED, reprompts=0)
        reask = self._prompt(step.id, _topic(step), self.messages.text("reask"), "question")
        return state, self._turn(state, [explanation, reask], Expect.YES_NO)

    def _identity(self, state: CallState, step: Step, given: CallerInput, kind: InputKind) -> tuple[CallState, Turn]:
        if kind is not InputKind.DIGITS:
            return self._not_understood(state, step)
        if given.digits == self.facts.birthday_digits:
            state = replace(state, identity_verified=True)
            return self._next(self._record(state, step, Answer.YES), [])
        failures = state.identity_failures + 1
        state = replace(state, identity_failures=failures, reprompts=0)
        if failures >= self.limits.identity_attempts:
            return self._end(self._record(state, step, Answer.NO), EndReason.IDENTITY_FAILED,
                             [self._system("end_identity_failed")])
        return state, self._ask(state, step, [self._system("identity_retry")])

    def _not_understood(self, state: CallState, step: Step) -> tuple[CallState, Turn]:
        if state.keypad_only:
            return self._end(state, EndReason.LANGUAGE_BARRIER, [self._system("end_language_barrier")])
        reprompts = state.reprompts + 1
        if reprompts <= self.limits.max_reprompts:
            state = replace(state, reprompts=reprompts)
            return state, self._ask(state, step, [self._system("reprompt")])
        state = replace(state, keypad_only=True, reprompts=0)
        return state, self._ask(state, step, [self._system("keypad_only")])

    def _handoff(self, state: CallState) -> tuple[CallState, Turn]:
        state = replace(state, phase=Phase.HANDOFF)
        step = self._current(state)
        turn = Turn((self._system("handoff"),), Expect.NOTHING, handoff_topic=_topic(step))
        return state, turn

    def _after_handoff(self, state: CallState, given: CallerInput) -> tuple[CallState, Turn]:
        if given.kind is InputKind.TRANSFERRED:
            return self._end(state, EndReason.HANDED_OFF, [])
        if given.kind is not InputKind.AGENT_UNAVAILABLE:
            raise ValueError(f"after a hand-off request the IVR reports transferred or agent_unavailable, not {given.kind}")
        if state.handoff_forced:  # the current question was never asked: ask it now
            state = replace(state, phase=Phase.ASK, handoff_forced=False, reprompts=0)
            return state, self._ask(state, self._current(state), [self._system("human_first_unavailable")])
        return self._next(state, [self._system("agent_unavailable")])

    def _end(self, state: CallState, reason: EndReason, prompts: list[Prompt],
             record_message: bool = False) -> tuple[CallState, Turn]:
        state = replace(state, phase=Phase.ENDED, end_reason=reason)
        return state, Turn(tuple(prompts), Expect.NOTHING, end_reason=reason, record_message=record_message)

    # -- helpers --------------------------------------------------------------------------------

    def _current(self, state: CallState) -> Step:
        return self.flow.step(state.plan[state.index])

    def _normalise(self, given: CallerInput, step: Step) -> InputKind:
        if given.kind is InputKind.DIGITS and step.kind is not StepKind.VERIFY_BIRTHDAY:
            return KEYPAD.get(given.digits, InputKind.UNKNOWN)
        if given.kind is InputKind.SILENCE:
            return InputKind.UNKNOWN
        return given.kind

    def _record(self, state: CallState, step: Step, answer: Answer) -> CallState:
        topic = _topic(step)
        if topic is None:
            return state
        return replace(state, answers={**state.answers, topic: answer.value})

    def _ask(self, state: CallState, step: Step, prompts: list[Prompt]) -> Turn:
        question = self._prompt(step.id, _topic(step), step.text, "question")
        if step.kind is StepKind.VERIFY_BIRTHDAY:
            return self._turn(state, [*prompts, question], Expect.DIGITS, digits=len(self.facts.birthday_digits))
        return self._turn(state, [*prompts, question], Expect.YES_NO)

    def _turn(self, state: CallState, prompts: list[Prompt], expect: Expect, digits: int = 0) -> Turn:
        if state.keypad_only and expect is Expect.YES_NO:
            prompts = [*prompts, self._system("keypad_hint")]
        return Turn(tuple(prompts), expect, digits=digits, keypad_only=state.keypad_only)

    def _system(self, name: str) -> Prompt:
        return self._prompt(f"system.{name}", None, self.messages.text(name), "system")

    def _prompt(self, step_id: str, topic: str | None, template: str, role: str) -> Prompt:
        return Prompt(step_id, topic, self._render(template), role, personal=is_personal(template))

    def _render(self, text: str) -> str:
        return text.format_map(self._values)


def is_personal(template: str) -> bool:
    """Whether a text says anything about this applicant or policy (any placeholder but the company's)."""
    return any(name is not None and name not in IMPERSONAL_PLACEHOLDERS
               for _literal, name, _spec, _conversion in Formatter().parse(template))


def _topic(step: Step) -> str | None:
    return step.topic.value if isinstance(step.topic, Topic) else None
