"""What a loaded flow is: steps with conditions, assembled from modules, with a version and content hash."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from flows.vocab import Topic


class StepKind(StrEnum):
    SAY = "say"  # a statement; no answer expected
    ASK = "ask"  # a yes/no question on a topic
    VERIFY_BIRTHDAY = "verify_birthday"  # the applicant keys in birth month and day (MMDD)


class OnNo(StrEnum):
    EXPLAIN = "explain"  # play the explanation and ask again (yes → clarified, no → unresolved)
    RECORD = "record"  # note the answer and go on (e.g. someone else signed: nothing to explain)
    END = "end"  # end the call with the step's end reason


class EndReason(StrEnum):
    COMPLETED = "completed"
    IDENTITY_FAILED = "identity_failed"
    APPLICANT_ABSENT = "applicant_absent"
    NOT_RECEIVED = "not_received"
    REFUSED = "refused"
    LANGUAGE_BARRIER = "language_barrier"
    HANGUP = "hangup"
    HANDED_OFF = "handed_off"
    LINK_REQUESTED = "link_requested"  # the applicant chose to finish by the e-callback SMS link (key 9)


# End reasons a flow file may name in `on_no: {end: ...}`.
STEP_END_REASONS = frozenset({EndReason.APPLICANT_ABSENT, EndReason.NOT_RECEIVED, EndReason.REFUSED})

Condition = Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    text: str
    topic: Topic | None = None
    on_no: OnNo = OnNo.EXPLAIN
    end_reason: EndReason | None = None
    explain: str | None = None
    when: Condition = field(default_factory=dict)
    module: str = ""
    file: str = ""
    line: int = 0
    text_line: int = 0
    explain_line: int = 0


_POSITIONS = ("file", "line", "text_line", "explain_line")


@dataclass(frozen=True)
class AppliesTo:
    product_types: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    dual_recorded: bool | None = None

    def specificity(self) -> int:
        return sum(bool(x) for x in (self.product_types, self.channels, self.variants)) + sum(
            x is not None for x in (self.min_age, self.max_age, self.dual_recorded))


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    language: str
    title: str
    applies_to: AppliesTo
    steps: tuple[Step, ...]
    file: str = ""

    def snapshot(self) -> dict[str, Any]:
        """The flow as data, without source positions: what a call stores and what the hash covers."""
        data = asdict(self)
        data.pop("file")
        for step in data["steps"]:
            for key in _POSITIONS:
                step.pop(key)
        return data

    @functools.cached_property
    def content_hash(self) -> str:
        """SHA-256 of the snapshot; computed once (a flow is immutable, and every answered call asks)."""
        canonical = json.dumps(self.snapshot(), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def matches(condition: Condition, values: Mapping[str, Any]) -> bool:
    """A `when` condition: every key must hold. A value may be a scalar, a list (any of), {not: ...},
    or for applicant_age {min: N, max: N}."""
    for key, expected in condition.items():
        actual = values.get(key)
        if isinstance(expected, Mapping):
            if "not" in expected:
                excluded = expected["not"]
                if actual in (excluded if isinstance(excluded, list) else [excluded]):
                    return False
            if "min" in expected and (actual is None or actual < expected["min"]):
                return False
            if "max" in expected and (actual is None or actual > expected["max"]):
                return False
        elif isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


def applies(applies_to: AppliesTo, values: Mapping[str, Any]) -> bool:
    age = values.get("applicant_age")
    return (
        (not applies_to.product_types or values.get("product_type") in applies_to.product_types)
        and (not applies_to.channels or values.get("channel") in applies_to.channels)
        and (not applies_to.variants or values.get("variant") in applies_to.variants)
        and (applies_to.min_age is None or (age is not None and age >= applies_to.min_age))
        and (applies_to.max_age is None or (age is not None and age <= applies_to.max_age))
        and (applies_to.dual_recorded is None or values.get("dual_recorded") == applies_to.dual_recorded)
    )
