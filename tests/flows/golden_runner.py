"""Golden flow cases (in the style of goflow's flow tests): a policy and the caller's inputs go in; the
transcript, answers and classification come out and are compared with the stored file.

Regenerate after an intended change with:  HUIFANG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/flows
and review the diff like code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flows.classify import classify
from flows.engine import CallerInput, FlowEngine, InputKind
from flows.library import FlowLibrary
from flows.model import EndReason
from tests.flows.facts_factory import facts

GOLDEN_DIR = Path(__file__).parent / "golden"


def parse_input(text: str) -> CallerInput:
    if text.startswith("digits:"):
        return CallerInput(InputKind.DIGITS, digits=text.split(":", 1)[1])
    return CallerInput(InputKind(text))


def run_case(case: dict[str, Any], library: FlowLibrary) -> dict[str, Any]:
    policy = facts(**case.get("policy", {}))
    flow = library.flows[case["flow"]] if "flow" in case else library.select(policy)
    engine = FlowEngine(flow, policy, library.messages[flow.language])
    state, turn = engine.start()
    transcript: list[dict[str, Any]] = []

    def robot(turn_prompts: Any) -> None:
        for p in turn_prompts:
            transcript.append({"robot": p.text, "topic": p.topic, "role": p.role})

    robot(turn.prompts)
    inputs = list(case.get("inputs", []))
    persona = case.get("persona")
    scripted = {topic: list(v) for topic, v in (persona or {}).get("topics", {}).items()}
    while not turn.ended and (inputs or persona is not None):
        if persona is not None:
            given = parse_input(_persona_input(persona, scripted, turn))
        else:
            given = parse_input(str(inputs.pop(0)))
        transcript.append({"caller": given.kind.value + (f":{given.digits}" if given.digits else "")})
        state, turn = engine.step(state, given)
        robot(turn.prompts)
        if turn.handoff_topic:
            transcript.append({"handoff": turn.handoff_topic})
    if inputs:
        raise AssertionError(f"the call ended with inputs left over: {inputs}")
    if not turn.ended:
        raise AssertionError("the inputs ran out before the call ended")
    result = classify(state.answers, EndReason(state.end_reason or ""), state.identity_verified)
    return {
        "flow": {"id": flow.id, "version": flow.version},
        "transcript": transcript,
        "end_reason": str(state.end_reason) if state.end_reason else None,
        "answers": dict(state.answers),
        "result_class": result.result_class.value,
        "reason_codes": [r.value for r in result.reason_codes],
        "cases": [[c.type.value, c.reason.value] for c in result.cases],
        "retry": result.retry,
    }


def _persona_input(persona: dict[str, Any], scripted: dict[str, list[Any]], turn: Any) -> str:
    """A scripted caller: per-topic answers in order, then the default; birthdays and hand-off results."""
    if turn.handoff_topic:
        return str(persona.get("handoff", "agent_unavailable"))
    if turn.expect.value == "digits":
        birthdays = scripted.setdefault("_birthday", list(persona.get("birthday", ["0517"])))
        return "digits:" + str(birthdays.pop(0) if len(birthdays) > 1 else birthdays[0])
    topic = next((p.topic for p in reversed(turn.prompts) if p.role == "question"), None)
    queue = scripted.get(str(topic))
    if queue:
        return str(queue.pop(0))
    return str(persona.get("default", "yes"))


def load_case(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def save_case(path: Path, case: dict[str, Any], expected: dict[str, Any]) -> None:
    data = {k: v for k, v in case.items() if k != "expect"}
    data["expect"] = expected
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
