"""Semantic checks of an assembled flow: placeholders, privacy before identity, reachability, references,
and the questionnaire content the rules require (docs/domain.md §8, §14 rules 10–15)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from flows.facts import CONDITION_KEYS, PLACEHOLDERS, PRIVATE_PLACEHOLDERS
from flows.loader import FlowError, FlowSpec, Module
from flows.model import AppliesTo, Flow, Step, StepKind
from flows.vocab import Topic

CORE_TOPICS = (Topic.IDENTITY, Topic.POLICY_RECEIVED, Topic.SIGNED_IN_PERSON, Topic.READ_DOCUMENTS,
               Topic.UNDERSTAND_COVERAGE, Topic.UNDERSTAND_SURRENDER_LOSS, Topic.PAYMENT_TERMS,
               Topic.INSURED_SIGNED, Topic.DUAL_RECORDING_INTENT)
NEW_TYPE = (Topic.BENEFIT_UNCERTAINTY, Topic.RISK_STATEMENT_SELF_COPIED)
PRODUCT_TOPICS: dict[str, tuple[Topic, ...]] = {
    "traditional": (),
    "participating": NEW_TYPE,
    "universal": (*NEW_TYPE, Topic.UL_FEES),
    "investment_linked": (Topic.INVESTMENT_RISK, Topic.UL_FEES, Topic.RISK_STATEMENT_SELF_COPIED),
    "health": (Topic.HEALTH_WAITING_PERIOD,),
}
_APPLIES_FIELDS = {"product_type": "product_types", "channel": "channels", "variant": "variants"}


def placeholders_in(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad placeholder syntax: {exc}") from None


def check_flow(spec: FlowSpec, modules: Mapping[str, Module], flow: Flow) -> list[FlowError]:
    errors: list[FlowError] = []

    def err(file: str, line: int, message: str) -> None:
        errors.append(FlowError(file, line, message))

    for name, line in spec.modules:
        if name not in modules:
            err(spec.file, line, f"flow {spec.id!r} uses module {name!r}, which no file defines")
        elif modules[name].broken:
            err(spec.file, line, f"flow {spec.id!r} uses module {name!r}, which has errors")
    seen: dict[str, Step] = {}
    identity_done = False
    for step in flow.steps:
        where = f"step {step.id!r}"
        if step.id in seen:
            err(step.file, step.line, f"{where} repeats the id of {seen[step.id].file}:{seen[step.id].line}")
        seen[step.id] = step
        for text, line in ((step.text, step.text_line), (step.explain or "", step.explain_line)):
            try:
                names = placeholders_in(text)
            except ValueError as exc:
                err(step.file, line, f"{where}: {exc}")
                continue
            for name in names:
                if name not in PLACEHOLDERS:
                    err(step.file, line, f"{where}: unknown placeholder {{{name}}}")
                elif name in PRIVATE_PLACEHOLDERS and not identity_done:
                    err(step.file, line, f"{where}: speaks {{{name}}} before the identity check")
        if step.kind is StepKind.ASK and step.topic is not Topic.IDENTITY and not identity_done:
            err(step.file, step.line, f"{where}: asks about the policy before the identity check")
        if step.kind is StepKind.VERIFY_BIRTHDAY:
            identity_done = True
        for message in _unreachable(step.when, flow.applies_to):
            err(step.file, step.line, f"{where} can never run in flow {flow.id!r}: {message}")
    if not any(s.kind is StepKind.VERIFY_BIRTHDAY for s in flow.steps):
        err(spec.file, spec.line, f"flow {spec.id!r} has no verify_birthday step: identity must come first")
    errors.extend(_duplicate_topics(flow))
    errors.extend(_required_topics(spec, flow))
    return errors


def _values(expected: Any) -> list[Any] | None:
    """The values a condition allows, when it lists them (None when it is a {not:…} or a range)."""
    if isinstance(expected, Mapping):
        return None
    return list(expected) if isinstance(expected, list) else [expected]


def _unreachable(when: Mapping[str, Any], applies_to: AppliesTo) -> Iterable[str]:
    for key, expected in when.items():
        if key not in CONDITION_KEYS:
            yield f"unknown fact {key!r} in when (known: {', '.join(sorted(CONDITION_KEYS))})"
            continue
        if isinstance(expected, Mapping):
            lo, hi = expected.get("min"), expected.get("max")
            if lo is not None and hi is not None and lo > hi:
                yield f"{key} min {lo} is above max {hi}"
            if key == "applicant_age":
                if applies_to.max_age is not None and lo is not None and lo > applies_to.max_age:
                    yield f"applicant_age min {lo} is above the flow's max_age {applies_to.max_age}"
                if applies_to.min_age is not None and hi is not None and hi < applies_to.min_age:
                    yield f"applicant_age max {hi} is below the flow's min_age {applies_to.min_age}"
            continue
        field = _APPLIES_FIELDS.get(key)
        allowed = getattr(applies_to, field) if field else ()
        values = _values(expected) or []
        if allowed and not set(values) & set(allowed):
            yield f"{key} {expected!r} is outside applies_to.{field} {list(allowed)}"
        if key == "dual_recorded" and applies_to.dual_recorded is not None and applies_to.dual_recorded not in values:
            yield f"dual_recorded {expected!r} contradicts applies_to.dual_recorded"


def _disjoint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    for key in set(a) & set(b):
        va, vb = _values(a[key]), _values(b[key])
        if va is not None and vb is not None and not set(va) & set(vb):
            return True
        if va is not None and isinstance(b[key], Mapping) and "not" in b[key]:
            excluded = _values(b[key]["not"]) or []
            if set(va) <= set(excluded):
                return True
        if vb is not None and isinstance(a[key], Mapping) and "not" in a[key]:
            excluded = _values(a[key]["not"]) or []
            if set(vb) <= set(excluded):
                return True
    return False


def _duplicate_topics(flow: Flow) -> Iterable[FlowError]:
    by_topic: dict[Topic, list[Step]] = {}
    for step in flow.steps:
        if step.topic is not None:
            by_topic.setdefault(step.topic, []).append(step)
    for topic, steps in by_topic.items():
        if topic is Topic.IDENTITY:
            continue  # the presence question and the birthday check share the identity topic
        for i, first in enumerate(steps):
            for second in steps[i + 1:]:
                if not _disjoint(first.when, second.when):
                    yield FlowError(second.file, second.line, f"step {second.id!r} asks topic {topic} again "
                                    f"(also step {first.id!r}); answers are kept per topic")


def _required_topics(spec: FlowSpec, flow: Flow) -> Iterable[FlowError]:
    present = {s.topic for s in flow.steps if s.topic is not None}
    required: list[Topic] = list(CORE_TOPICS)
    if not flow.applies_to.variants or "A" in flow.applies_to.variants:
        required.append(Topic.COOLING_OFF_RIGHTS)
    for product_type in flow.applies_to.product_types:
        required.extend(PRODUCT_TOPICS.get(product_type, ()))
    for topic in dict.fromkeys(required):
        if topic not in present:
            yield FlowError(spec.file, spec.line, f"flow {spec.id!r} never asks the required topic {topic}")
