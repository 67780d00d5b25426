"""What drives a call, as plain values: an answer heard, a provider's status report, a dial result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.engine import CallerInput


@dataclass(frozen=True)
class Heard:
    """What the caller gave, and everything to keep for the record (raw recognition, errors, timings)."""

    input: CallerInput
    detail: dict[str, Any] = field(default_factory=dict)
    who: str = "caller"  # who answered, for the record: the caller on the phone, the applicant off it


@dataclass(frozen=True)
class Answered:
    """The call was answered (Twilio's answered-call webhook)."""

    call_sid: str
    task_id: int | None  # the task the dialer placed it for (to register a call not stored yet)
    answered_by: str | None = None  # AMD: human | machine_* | fax | unknown
    to: str = ""  # the number called, as the provider reports it
    from_: str = ""  # the caller ID shown


@dataclass(frozen=True)
class StatusReport:
    """One call-progress report (Twilio's StatusCallback), already parsed."""

    call_sid: str
    status: str  # queued | initiated | ringing | in-progress | completed | busy | no-answer | failed | canceled
    at: datetime | None  # when the provider says it happened (None: now)
    task_id: int | None = None
    duration_s: int | None = None
    sip_response_code: str = ""
    to: str = ""  # the number called, as the provider reports it
    from_: str = ""  # the caller ID shown
    detail: dict[str, str] = field(default_factory=dict)  # kept in the call's record as sent


@dataclass(frozen=True)
class DialResult:
    """How the transfer to an agent ended."""

    call_sid: str
    status: str  # DialCallStatus
    detail: dict[str, str] = field(default_factory=dict)
