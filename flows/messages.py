"""The engine's own words (reprompts, keypad offer, endings, hand-off), kept as data beside the flows."""

from __future__ import annotations

from dataclasses import dataclass

REQUIRED_MESSAGES = (
    "reprompt",  # an answer was not understood
    "keypad_only",  # speech failed twice: keys from now on
    "keypad_hint",  # played after each question in keypad-only mode
    "reask",  # after an explanation
    "identity_retry",  # the birthday did not match
    "end_identity_failed",
    "end_applicant_absent",
    "end_not_received",
    "end_refused",
    "end_language_barrier",
    "handoff",  # a person is being asked for
    "agent_unavailable",  # no person free: the robot goes on
    "human_first",  # a policy rule sends this caller to a person right after identity
    "human_first_unavailable",  # ... and no person is free: the robot asks instead
    "turn_limit",  # the call went round in circles
    "end_link_requested",  # the applicant chose the e-callback SMS link (key 9) instead of the call
)


@dataclass(frozen=True)
class Messages:
    language: str
    texts: dict[str, str]

    def text(self, name: str) -> str:
        return self.texts[name]
