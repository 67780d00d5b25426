"""Caller personas (docs/interfaces.md): how a simulated callee picks up, proves identity and answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PICKUPS = ("human", "no-answer", "busy", "failed", "machine", "invalid-number")
IDENTITIES = ("correct", "wrong", "absent")
MODES = ("text", "dtmf", "audio")
ANSWERS = ("yes", "no", "no-then-yes", "silence", "unintelligible", "human")
KEYS = ("pickup", "identity", "mode", "answers", "hangup_after")


class PersonaError(ValueError):
    """A persona file or field that cannot be used; the message names it."""


@dataclass(frozen=True)
class Persona:
    pickup: tuple[str, ...] = ("human",)  # one per attempt; the last repeats
    identity: str = "correct"
    mode: str = "text"
    answers: Mapping[str, str] = field(default_factory=lambda: {"default": "yes"})
    hangup_after: str | None = None

    def pickup_on(self, attempt: int) -> str:
        """How the callee treats call number `attempt` (1-based)."""
        return self.pickup[min(attempt, len(self.pickup)) - 1]

    def answer_for(self, topic: str | None) -> str:
        return self.answers.get(topic or "", self.answers.get("default", "yes"))


def persona_from(data: Any, where: str) -> Persona:
    if not isinstance(data, dict):
        raise PersonaError(f"{where}: a persona is a mapping of {', '.join(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise PersonaError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    pickup = data.get("pickup", "human")
    pickups = tuple(pickup) if isinstance(pickup, list) else (pickup,)
    for value in pickups:
        _one_of(value, PICKUPS, f"{where}.pickup")
    answers = data.get("answers", {"default": "yes"})
    if not isinstance(answers, dict):
        raise PersonaError(f"{where}.answers: a mapping of topic → answer")
    answers = {str(topic): _answer(value, f"{where}.answers.{topic}") for topic, value in answers.items()}
    hangup = data.get("hangup_after")
    return Persona(
        pickup=pickups or ("human",),
        identity=_one_of(data.get("identity", "correct"), IDENTITIES, f"{where}.identity"),
        mode=_one_of(data.get("mode", "text"), MODES, f"{where}.mode"),
        answers=answers,
        hangup_after=str(hangup) if hangup else None,
    )


def load_persona(path: Path) -> Persona:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PersonaError(f"{path}: cannot read the persona ({exc})") from None
    return persona_from(data, str(path))


def _answer(value: Any, where: str) -> str:
    if value is True:  # YAML reads a bare yes/no as a boolean
        value = "yes"
    elif value is False:
        value = "no"
    return _one_of(value, ANSWERS, where)


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise PersonaError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)
