"""A directory of flows, validated. Only flows without errors can be selected for a call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.facts import PolicyFacts, condition_values
from flows.loader import FlowError, assemble, read_sources
from flows.messages import Messages
from flows.model import Flow, applies
from flows.validate import check_flow

SHIPPED = Path(__file__).parent / "library"


class FlowNotFound(LookupError):
    pass


@dataclass
class FlowLibrary:
    flows: dict[str, Flow] = field(default_factory=dict)
    messages: dict[str, Messages] = field(default_factory=dict)
    errors: list[FlowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def select(self, facts: PolicyFacts) -> Flow:
        """The most specific valid flow that applies to this policy."""
        values = condition_values(facts)
        candidates = [f for f in self.flows.values() if applies(f.applies_to, values)]
        if not candidates:
            raise FlowNotFound(f"no valid flow applies to a {facts.product_type} policy via {facts.channel}")
        candidates.sort(key=lambda f: (-f.applies_to.specificity(), f.id))
        best = candidates[0]
        if len(candidates) > 1 and candidates[1].applies_to.specificity() == best.applies_to.specificity():
            raise FlowNotFound(f"flows {best.id!r} and {candidates[1].id!r} both apply equally; narrow applies_to")
        return best


def configured_path(configured: str) -> Path:
    """The flows directory a setting (`questionnaire.flows_path`) names; empty: the flows shipped here."""
    return Path(configured) if configured else SHIPPED


def load_library(path: Path = SHIPPED) -> FlowLibrary:
    sources = read_sources(path)
    library = FlowLibrary(messages=sources.messages, errors=list(sources.errors))
    files_with_errors = {e.file for e in sources.errors}
    for spec in sources.flows:
        flow = assemble(spec, sources.modules)
        errors = check_flow(spec, sources.modules, flow)
        if spec.language in sources.broken_languages:
            errors.append(FlowError(spec.file, spec.line, f"flow {spec.id!r}: the {spec.language} messages have errors"))
        elif spec.language not in sources.messages:
            errors.append(FlowError(spec.file, spec.line, f"flow {spec.id!r}: no messages file for language "
                                    f"{spec.language!r}"))
        if spec.id in library.flows:
            errors.append(FlowError(spec.file, spec.line, f"flow id {spec.id!r} is defined twice"))
        library.errors.extend(errors)
        if not errors and spec.file not in files_with_errors:
            library.flows[spec.id] = flow
    library.errors.sort(key=lambda e: (e.file, e.line, e.message))
    library.errors = list(dict.fromkeys(library.errors))
    return library
