"""The flow studio's simulated call: the same engine and classifier as a real call, and nothing written anywhere.

What the simulator keeps between requests is what was chosen (the flow, its content hash, the sample policy) and
the caller's inputs so far, in the signed session cookie; each page replays the engine from the start with those
inputs (the engine is a pure state machine, so the replay is the call). At the end the answers are classified by
`flows.classify.classify` and the cases the result would open come from `calls.results.cases_needed`, the rule
`apply_result` opens cases with. No call, task or case row is ever created.

A hand-off asks what the IVR would report: the agent answered (the call ends, handed off, and is classified
with the caller's doubt standing, as a real call is until the agent reports an outcome) or no agent was free
(the robot goes on). The human-first rule for elderly applicants (`ivr.human_first_min_age`) is the IVR's, not
the flow's: the simulator does not apply it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calls.results import cases_needed
from console.flows.samples import SampleChoice
from flows.classify import CaseToOpen, Classification, classify
from flows.engine import CallerInput, CallState, Expect, FlowEngine, InputKind, Phase, Turn

# the buttons (the caller's voice as the recogniser would report it) and what each means
VOICE: dict[str, str] = {"yes": "是", "no": "否", "repeat": "重复", "human": "人工", "silence": "沉默", "unknown": "听不清"}
HANDOFF: dict[str, str] = {"transferred": "坐席已接通", "agent_unavailable": "坐席未接通"}
KEYS = re.compile(r"[0-9*#]{1,8}")
SESSION_KEY = "flow_sim"


class BadInput(ValueError):
    """An input the call cannot take now (the page says why; nothing changes)."""


@dataclass(frozen=True)
class Given:
    kind: str  # a VOICE or HANDOFF key, or "keys"
    digits: str = ""

    @property
    def words(self) -> str:
        if self.kind == "keys":
            return f"按键 {self.digits}"
        return VOICE.get(self.kind) or HANDOFF.get(self.kind, self.kind)

    def caller_input(self) -> CallerInput:
        if self.kind == "keys":
            return CallerInput(InputKind.DIGITS, digits=self.digits, text=self.digits)
        return CallerInput(InputKind(self.kind), text=self.words)


@dataclass(frozen=True)
class Exchange:
    """What the caller did (None: the call was answered) and what the robot said next."""

    given: Given | None
    turn: Turn


@dataclass
class Simulation:
    engine: FlowEngine
    state: CallState
    exchanges: list[Exchange]
    confirming: bool = False
    result: Classification | None = None
    cases: tuple[CaseToOpen, ...] = field(default_factory=tuple)

    @property
    def turn(self) -> Turn:
        return self.exchanges[-1].turn

    @property
    def ended(self) -> bool:
        return self.state.end_reason is not None

    @property
    def in_handoff(self) -> bool:
        return self.state.phase is Phase.HANDOFF and not self.ended

    @property
    def expects_digits(self) -> bool:
        return self.turn.expect is Expect.DIGITS


def parse(form: Mapping[str, str]) -> Given:
    """The answer form: `input` (a button) or `keys` (what was keyed in)."""
    value = (form.get("input") or "").strip()
    keys = (form.get("keys") or "").strip()
    if value in VOICE or value in HANDOFF:
        return Given(value)
    if value == "keys" or (not value and keys):
        if not KEYS.fullmatch(keys):
            raise BadInput("请输入按键：数字 0-9、* 或 #（最多 8 位）")
        return Given("keys", keys)
    raise BadInput("请选择一个回答")


def replay(engine: FlowEngine, inputs: list[Given], *, confirming: bool = False) -> Simulation:
    """The call from its start with `inputs`; BadInput when the last one does not fit the turn it answers."""
    state, turn = engine.start()
    sim = Simulation(engine, state, [Exchange(None, turn)], confirming)
    for given in inputs:
        _check(sim, given)
        try:
            state, turn = engine.step(sim.state, given.caller_input())
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        sim.state = state
        sim.exchanges.append(Exchange(given, turn))
    if sim.ended:
        assert state.end_reason is not None
        sim.result = classify(state.answers, state.end_reason, state.identity_verified)
        sim.cases = cases_needed(sim.result, confirming=confirming)
    return sim


def _check(sim: Simulation, given: Given) -> None:
    if sim.ended:
        raise BadInput("模拟通话已结束，请重新开始")
    if sim.in_handoff and given.kind not in HANDOFF:
        raise BadInput("正在转接人工：请选择“坐席已接通”或“坐席未接通”")
    if not sim.in_handoff and given.kind in HANDOFF:
        raise BadInput("现在没有转接人工")


# -- what the session keeps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    flow_id: str
    flow_hash: str
    sample: SampleChoice
    confirming: bool
    inputs: list[Given]

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow_id, "hash": self.flow_hash, "sample": self.sample.to_dict(),
                "confirming": self.confirming, "inputs": [[g.kind, g.digits] for g in self.inputs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stored | None:
        try:
            return cls(str(data["flow"]), str(data["hash"]), SampleChoice.from_dict(data["sample"]),
                       bool(data.get("confirming", False)), [Given(str(k), str(d)) for k, d in data["inputs"]])
        except (KeyError, TypeError, ValueError):
            return None
