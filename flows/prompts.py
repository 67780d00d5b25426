"""Which texts a flow can speak, for rendering audio ahead of time.

Static texts use no placeholder but the company's name and hotline: the same for every call, rendered once
(`huifang prompts render`). Everything else is rendered per call when the call is set up, before dialing.
"""

from __future__ import annotations

from string import Formatter

from flows import speak
from flows.messages import Messages
from flows.model import Flow

STATIC_PLACEHOLDERS = frozenset({"company_name", "hotline"})


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field}


def flow_texts(flow: Flow, messages: Messages) -> list[str]:
    """Every text the flow may say, unrendered: step texts, explanations, and the engine's messages."""
    texts = [step.text for step in flow.steps] + [step.explain for step in flow.steps if step.explain]
    texts += list(messages.texts.values())
    return list(dict.fromkeys(texts))


def static_texts(flow: Flow, messages: Messages, company_name: str, hotline: str) -> list[str]:
    """The flow's texts that are the same in every call, rendered."""
    values = {"company_name": company_name, "hotline": speak.phone_digits(hotline)}
    return [text.format_map(values) for text in flow_texts(flow, messages) if placeholders(text) <= STATIC_PLACEHOLDERS]
