"""The shared vocabulary (docs/architecture.md): identifiers used in code, files, the database and JSON.

The questionnaire vocabulary (topics, result classes, reason codes, case types) is owned by `flows.vocab`,
which imports nothing of ours; kit imports nothing of ours either, so import those from flows.vocab.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "OPEN_CASE_STATUSES", "OPEN_TASK_STATUSES", "AgentOutcome", "CallOutcome", "CallbackChannel", "CaseStatus", "Channel",
    "DayType",
    "ExclusionReason", "Gender", "HoldReason", "PaymentFrequency", "ProductType", "QuestionnaireVariant",
    "HandoffReason", "HoldSource", "RecordingStatus", "RetryReason", "SlaStatus", "TaskStatus",
]


class ProductType(StrEnum):
    TRADITIONAL = "traditional"
    PARTICIPATING = "participating"
    UNIVERSAL = "universal"
    INVESTMENT_LINKED = "investment_linked"
    HEALTH = "health"


class Channel(StrEnum):
    AGENCY = "agency"
    BANCASSURANCE = "bancassurance"
    INTERMEDIARY = "intermediary"
    TELESALES = "telesales"
    INTERNET = "internet"


class CallbackChannel(StrEnum):
    """How a callback reaches the applicant (回访方式; docs/domain.md §5). Not the sales channel (`Channel`)."""

    PHONE = "phone"  # 电话回访: the robot's call
    ECALLBACK = "ecallback"  # 电子化回访: an SMS link to the H5 questionnaire
    LETTER = "letter"  # 信函回访: a printed questionnaire and a receipt signed by the applicant
    VISIT = "visit"  # 上门回访: a visit by someone other than the policy's agent, the questionnaire signed


class PaymentFrequency(StrEnum):
    SINGLE = "single"
    ANNUAL = "annual"
    SEMIANNUAL = "semiannual"
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"


class Gender(StrEnum):
    MALE = "M"
    FEMALE = "F"


class ExclusionReason(StrEnum):
    """Why a policy needs no callback (docs/domain.md §2)."""

    GROUP_BUSINESS = "group_business"
    TERM_ONE_YEAR_OR_LESS = "term_one_year_or_less"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    HELD = "held"
    DIALING = "dialing"  # claimed by a dialer, the call being placed (under a lease)
    IN_PROGRESS = "in_progress"  # a call is under way
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_TASK_STATUSES: frozenset[TaskStatus] = frozenset({TaskStatus.QUEUED, TaskStatus.HELD})


class QuestionnaireVariant(StrEnum):
    A = "A"
    B = "B"


class HoldReason(StrEnum):
    """Why a task may not be dialled yet. Phone-quality holds carry the matching reason code."""

    DUPLICATE_NUMBER = "duplicate_number"
    WRONG_NUMBER = "wrong_number"


class HoldSource(StrEnum):
    """Who put a hold on a task: intake's phone-quality rules, or the dialer when the carrier refused the number."""

    INTAKE = "intake"
    DIALER = "dialer"


class RetryReason(StrEnum):
    """Why an attempt is retried: the keys of `dialer.retry_wait_minutes`."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    HANGUP = "hangup"
    FAILED = "failed"
    CANCELED = "canceled"
    APPLICANT_ABSENT = "applicant_absent"


class HandoffReason(StrEnum):
    """Why a call went to a person."""

    ASKED = "asked"  # the caller asked (人工 / key 0)
    UNRESOLVED = "unresolved"  # a "no" still not clear after the explanation
    HUMAN_FIRST = "human_first"  # a policy rule (ivr.human_first_min_age) before any question


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_CASE_STATUSES: frozenset[CaseStatus] = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS})


class SlaStatus(StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    OVERDUE = "overdue"


class DayType(StrEnum):
    NATURAL = "natural"
    WORKING = "working"


class CallOutcome(StrEnum):
    """How one call attempt ended, as the dialer reads it (docs/twilio-facts.md §2.2)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # the flow reached an end (any result)
    HANGUP = "hangup"  # answered, but the caller hung up before the flow ended
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"  # answering machine or fax (AMD)
    FAILED = "failed"  # provider error or unreachable number
    CANCELED = "canceled"


class RecordingStatus(StrEnum):
    PENDING = "pending"  # announced by Twilio, not stored yet: retried until stored
    STORED = "stored"
    ABSENT = "absent"  # Twilio says there is no audio (RecordingStatus=absent)
    FAILED = "failed"  # Twilio says recording failed
    PURGED = "purged"  # deleted after its retention date


class AgentOutcome(StrEnum):
    CLARIFIED = "clarified"
    NOT_CLARIFIED = "not_clarified"
