"""Placing calls: a provider interface and its Twilio implementation (a simulated one comes with the harness).

Errors are sorted by what the dialer must do (docs/twilio-facts.md §2.8): a number that cannot be called
(hold it, no retry), a rate limit or a network failure (back off, the task stays due), anything else a
problem of the account or configuration (back off and say so loudly).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

INVALID_NUMBER_CODES = frozenset({21211, 21214, 21215, 21216, 21217, 13223, 13224, 13226})
RATE_LIMIT_CODES = frozenset({20429})  # Too Many Requests (also any HTTP 429)


class PlacementProblem(StrEnum):
    INVALID_NUMBER = "invalid_number"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"  # network, 5xx
    REFUSED = "refused"  # account, credentials, caller ID: needs a person


class PlacementError(Exception):
    def __init__(self, problem: PlacementProblem, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.code = code


@dataclass(frozen=True)
class CallRequest:
    task_id: int
    to: str  # E.164
    caller_id: str
    answer_url: str
    fallback_url: str  # Twilio's FallbackUrl: requested when a voice webhook fails (twilio-facts §2.10)
    status_url: str
    recording_status_url: str
    ring_timeout_s: int
    time_limit_s: int
    machine_detection: bool


class TelephonyProvider(Protocol):
    def place(self, request: CallRequest) -> str:
        """Ask for the call; returns its CallSid or raises PlacementError."""


class TwilioProvider:
    def __init__(self, account_sid: str, auth_token: str, client: Client | None = None) -> None:
        if not account_sid or not auth_token:
            raise ValueError("twilio.account_sid and twilio.auth_token are needed to place calls")
        self.client = client or Client(account_sid, auth_token)

    def place(self, request: CallRequest) -> str:
        try:
            call = self.client.calls.create(
                to=request.to,
                from_=request.caller_id,
                url=request.answer_url,
                method="POST",
                fallback_url=request.fallback_url,
                fallback_method="POST",
                status_callback=request.status_url,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
                record=True,
                recording_channels="dual",
                recording_status_callback=request.recording_status_url,
                recording_status_callback_event=["completed", "absent"],
                recording_status_callback_method="POST",
                machine_detection="Enable" if request.machine_detection else None,
                timeout=request.ring_timeout_s,
                time_limit=request.time_limit_s,
            )
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except requests.RequestException as exc:
            raise PlacementError(PlacementProblem.TRANSIENT, f"network: {exc}") from exc
        if not call.sid:
            raise PlacementError(PlacementProblem.TRANSIENT, "Twilio returned no CallSid")
        return str(call.sid)


def _classify(exc: TwilioRestException) -> PlacementError:
    code = exc.code
    text = f"Twilio {code or exc.status}: {exc.msg}"
    if code in INVALID_NUMBER_CODES:
        return PlacementError(PlacementProblem.INVALID_NUMBER, text, code)
    if code in RATE_LIMIT_CODES or exc.status == 429:
        return PlacementError(PlacementProblem.RATE_LIMITED, text, code)
    if exc.status >= 500:
        return PlacementError(PlacementProblem.TRANSIENT, text, code)
    return PlacementError(PlacementProblem.REFUSED, text, code)
