"""What a case action says back to its front door: a refusal or the effects it had, each with a stable code and
the values it names, beside English words for the CLI. A front door that speaks Chinese (the console) translates
the code; the rule that refused stays in cases.actions (one rule, one place)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from storage.models import Case


class Refusal(StrEnum):
    """Why an action was refused. The values named in `ActionRefused.params` are listed beside each."""

    CASE_NOT_OPEN = "case_not_open"  # case_status
    NOT_APPLICABLE = "not_applicable"  # action, case_type
    STALE = "stale"  # someone else changed the case since the form was shown
    EXPLANATION_TOO_LATE = "explanation_too_late"  # due
    EXPLANATION_TEXT_REQUIRED = "explanation_text_required"
    PHONE_REQUIRED = "phone_required"
    PHONE_INVALID = "phone_invalid"  # phone
    TIME_REQUIRED = "time_required"
    TIME_REFUSED = "time_refused"  # at, why (dialer.appointments.AppointmentRefused.code, "" if unknown)
    NO_TASK = "no_task"
    TASK_CANCELLED = "task_cancelled"
    CALL_UNDER_WAY = "call_under_way"  # task_status
    TASK_STATE = "task_state"  # task_status
    STATEMENTS_REQUIRED = "statements_required"
    RESCISSION_NOT_TOLD = "rescission_not_told"
    QUESTIONNAIRE_REQUIRED = "questionnaire_required"
    ASSIGNEE_REQUIRED = "assignee_required"
    OWN_AGENT = "own_agent"  # agent
    VISITOR_REQUIRED = "visitor_required"
    VISITOR_IS_AGENT = "visitor_is_agent"  # agent
    OUTSIDE_BRANCH = "outside_branch"  # to, branch


class ActionRefused(ValueError):
    """The action cannot be taken on this case; the message says why in English (and names the CLI option to
    fix it), `code` says it for translation, `field` names the form field at fault (None: the case itself)."""

    def __init__(self, message: str, code: Refusal, *, field: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code, self.field, self.params = code, field, params


class StaleCase(ActionRefused):
    """The case changed since the form was shown: someone else acted on it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Refusal.STALE)


class CaseNotFound(LookupError):
    """No such case in the actor's view (the same answer whether it does not exist or is another branch's)."""


class EffectCode(StrEnum):
    EXPLANATION_FILED = "explanation_filed"
    PHONE_CHANGED = "phone_changed"  # old, new
    CALLBACK_QUEUED = "callback_queued"
    CALLBACK_STILL_HELD = "callback_still_held"
    APPOINTMENT_BOOKED = "appointment_booked"  # at
    CONFIRMING_QUEUED = "confirming_queued"
    CONFIRMING_WAITS = "confirming_waits"
    CALLBACK_CANCELLED = "callback_cancelled"
    OTHER_CASES_CANCELLED = "other_cases_cancelled"  # count
    CALLBACK_COMPLETED = "callback_completed"
    CASE_STATUS = "case_status"  # case_status
    ASSIGNED = "assigned"  # to


@dataclass(frozen=True)
class Effect:
    """One thing an action did: `text` in English (CLI, JSON), `code` and `params` for translation."""

    code: EffectCode
    text: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


@dataclass
class Outcome:
    """What an action did: the case as it is now, and its effects (for the CLI, console and API)."""

    case: Case
    branch_code: str
    effects: list[Effect] = field(default_factory=list)

    def add(self, code: EffectCode, text: str, **params: object) -> None:
        self.effects.append(Effect(code, text, params))
