"""A quality review's corrections → the call's corrected topic answers (pure: no database, no clock).

The reviewer listens to a call and marks each answer the robot heard right or wrong, saying what the caller
really said when it was wrong. A topic with no wrong mark keeps the answer the call gave it. A topic with one
is derived again from its answers in order, as the step's `on_no` reads them (flows.engine):

- explain-step: a "no" with no later "yes" is `unresolved`; a "no" then a "yes" is `clarified`; only "yes": `yes`;
- record-step and end-step: the first "yes" or "no" is the answer (`yes` / `no`);
- asking for a person (before an answer) is `human_requested`.

Repeats, silence and "unknown" are no answer. A topic whose corrected answers hold none keeps its answer: the
call did get an answer on it, and a review cannot replay the call (nor change how it ended: the end reason
stays, so a call cut short by a misheard answer keeps its end; the reviewer says so with `result_correct`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flows.engine import KEYPAD, Answer, InputKind
from flows.model import Flow, OnNo, StepKind

DECISIVE = (InputKind.YES, InputKind.NO, InputKind.HUMAN)


@dataclass(frozen=True)
class HeardAnswer:
    """One answer event of the call: its seq, the topic asked, how the input was taken, the keys pressed."""

    seq: int
    topic: str | None
    heard: str  # flows.engine.InputKind's value
    digits: str = ""


def topic_rules(flow: Flow, plan: Sequence[str] | None = None) -> dict[str, OnNo]:
    """What a "no" does on each topic asked with a yes/no question (of the planned steps, when given)."""
    planned = set(plan) if plan is not None else None
    rules: dict[str, OnNo] = {}
    for step in flow.steps:
        if step.kind is StepKind.ASK and step.topic is not None and (planned is None or step.id in planned):
            rules.setdefault(step.topic.value, step.on_no)
    return rules


def effective(heard: str, digits: str = "") -> InputKind | None:
    """What an input means for a yes/no question (keys as the keypad reads them); None: not an input kind."""
    try:
        kind = InputKind(heard)
    except ValueError:
        return None
    if kind is InputKind.DIGITS:
        return KEYPAD.get(digits)
    return kind


def derive(on_no: OnNo, inputs: Sequence[InputKind]) -> str | None:
    """A topic's answer from its inputs in order, as the step reads them; None when none decides."""
    decisive = [kind for kind in inputs if kind in DECISIVE]
    if not decisive:
        return None
    if on_no is not OnNo.EXPLAIN:
        first = decisive[0]
        return {InputKind.YES: Answer.YES, InputKind.NO: Answer.NO}.get(first, Answer.HUMAN_REQUESTED).value
    said_no = False
    for kind in decisive:
        if kind is InputKind.HUMAN:
            return Answer.HUMAN_REQUESTED.value
        if kind is InputKind.YES:
            return (Answer.CLARIFIED if said_no else Answer.YES).value
        said_no = True
    return Answer.UNRESOLVED.value


def corrected_answers(answers: Mapping[str, str], heard: Sequence[HeardAnswer], corrections: Mapping[int, str],
                      rules: Mapping[str, OnNo]) -> dict[str, str]:
    """The call's topic answers as the reviewer's corrections (answer event seq → what the caller really said)
    make them; topics without a wrong mark, or not asked with a yes/no question, keep theirs."""
    result = dict(answers)
    corrected_topics = {a.topic for a in heard if a.seq in corrections and a.topic in rules}
    for topic in sorted(t for t in corrected_topics if t is not None):
        inputs = []
        for answer in sorted((a for a in heard if a.topic == topic), key=lambda a: a.seq):
            actual = corrections.get(answer.seq)
            kind = effective(actual, answer.digits) if actual is not None else effective(answer.heard, answer.digits)
            if kind is not None:
                inputs.append(kind)
        derived = derive(rules[topic], inputs)
        if derived is not None:
            result[topic] = derived
    return result
