"""Reading Twilio's requests into the call operations' plain inputs; a bad parameter is a 400 naming it.

Everything is checked before a rule runs or a row is touched (kit.wire): numbers are ASCII digits within
bounds, SIDs have Twilio's shape, no value carries a control character or is longer than any column it
may land in. A refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from calls.inputs import StatusReport
from ivr.services import IvrError
from kit.wire import has_control_character, is_call_sid, shown, whole_number

STATUS_DETAIL = ("SequenceNumber", "CallDuration", "Timestamp", "AnsweredBy", "SipResponseCode")
MAX_VALUE = 2048  # characters in any one parameter (Twilio's longest are URLs)
SHORT = 32  # numbers (E.164 and SIP), AnsweredBy, statuses: the width of their columns
MAX_DURATION_S = 7 * 24 * 3600


def check_all(pairs: Iterable[tuple[str, str]], where: str = "parameter") -> None:
    """Every name and value: no control character, not absurdly long."""
    for name, value in pairs:
        if has_control_character(name) or len(name) > 64:
            raise IvrError(f"a {where} name {shown(name)} is not acceptable")
        if has_control_character(value):
            raise IvrError(f"{where} {name} contains a control character")
        if len(value) > MAX_VALUE:
            raise IvrError(f"{where} {name} is longer than {MAX_VALUE} characters")


def require(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise IvrError(f"missing parameter {name}")
    return value


def call_sid_of(form: Mapping[str, str]) -> str:
    """The CallSid, of Twilio's shape (CA + 32 hex digits)."""
    value = require(form, "CallSid")
    if not is_call_sid(value):
        raise IvrError(f"parameter CallSid must be a Twilio call SID (CA and 32 hex digits), got {shown(value)}")
    return value


def short(form: Mapping[str, str], name: str, limit: int = SHORT) -> str:
    """An optional parameter that is stored in a narrow column: at most `limit` characters."""
    value = form.get(name, "")
    if len(value) > limit:
        raise IvrError(f"parameter {name} is longer than {limit} characters")
    return value


def int_arg(args: Mapping[str, str], name: str, required: bool = True) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        if required:
            raise IvrError(f"missing query parameter {name}")
        return None
    try:
        return whole_number(raw)
    except ValueError as exc:
        raise IvrError(f"query parameter {name} {exc}") from None


def timestamp(form: Mapping[str, str]) -> datetime | None:
    raw = form.get("Timestamp")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise IvrError(f"parameter Timestamp {shown(raw)} is not an RFC 2822 date") from None


def _duration(form: Mapping[str, str]) -> int | None:
    raw = form.get("CallDuration")
    if not raw:
        return None
    try:
        return whole_number(raw, MAX_DURATION_S)
    except ValueError as exc:
        raise IvrError(f"parameter CallDuration {exc}") from None


def status_report(form: Mapping[str, str], task_id: int | None) -> StatusReport:
    return StatusReport(
        call_sid=call_sid_of(form), status=require(form, "CallStatus"), at=timestamp(form), task_id=task_id,
        duration_s=_duration(form), sip_response_code=short(form, "SipResponseCode"), to=short(form, "To"),
        from_=short(form, "From"), detail={k: form[k] for k in STATUS_DETAIL if k in form})
