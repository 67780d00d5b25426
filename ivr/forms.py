"""Reading Twilio's requests into the call operations' plain inputs; a bad parameter is a 400 naming it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from calls.inputs import StatusReport
from ivr.services import IvrError

STATUS_DETAIL = ("SequenceNumber", "CallDuration", "Timestamp", "AnsweredBy", "SipResponseCode")


def require(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise IvrError(f"missing parameter {name}")
    return value


def int_arg(args: Mapping[str, str], name: str, required: bool = True) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        if required:
            raise IvrError(f"missing query parameter {name}")
        return None
    if not raw.isdigit():
        raise IvrError(f"query parameter {name} must be a whole number, got {raw!r}")
    return int(raw)


def timestamp(form: Mapping[str, str]) -> datetime | None:
    raw = form.get("Timestamp")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError):
        raise IvrError(f"Timestamp {raw!r} is not an RFC 2822 date") from None


def status_report(form: Mapping[str, str], task_id: int | None) -> StatusReport:
    duration = form.get("CallDuration")
    return StatusReport(
        call_sid=require(form, "CallSid"), status=require(form, "CallStatus"), at=timestamp(form), task_id=task_id,
        duration_s=int(duration) if duration and duration.isdigit() else None,
        sip_response_code=form.get("SipResponseCode", ""), to=form.get("To", ""), from_=form.get("From", ""),
        detail={k: form[k] for k in STATUS_DETAIL if k in form})
