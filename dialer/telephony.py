"""Placing calls: a provider interface and its Twilio implementation (a simulated one comes with the harness).

Errors are sorted by what the dialer must do (docs/twilio-facts.md §2.8): a number that cannot be called
(hold it, no retry), a rate limit or a failure that certainly created no call (back off, the task stays due),
a failure after the request may have reached Twilio (back off, and never ask again for that task within its
claim: POST /Calls is not idempotent, so the call may exist), anything else a problem of the account or
configuration (back off and say so loudly).

A provider that can list the calls it placed (`CallLookup`) lets a dialer that takes over a claim whose
placement is unknown (a dead dialer, a lost answer) find the call instead of dialling the number again.

Requests go to Twilio's API unless `twilio.api_base_url` names another origin (a harness's fake Twilio on
loopback, validated in huifang.config): the client's https://api.twilio.com URLs are rewritten to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

INVALID_NUMBER_CODES = frozenset({21211, 21214, 21215, 21216, 21217, 13223, 13224, 13226})
RATE_LIMIT_CODES = frozenset({20429})  # Too Many Requests (also any HTTP 429)
NOT_TAKEN_STATUSES = frozenset({503})  # Service Unavailable: Twilio did not take the request, try again later
API_TIMEOUT_S = 15.0  # a POST /Calls (or a lookup) with no answer after this is given up (its call may exist)
CLOCK_SKEW = timedelta(seconds=60)  # our clock against Twilio's DateCreated, when looking a placement up
TWILIO_API = "https://api.twilio.com"  # the origin twilio-python builds its URLs on


class PlacementProblem(StrEnum):
    INVALID_NUMBER = "invalid_number"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"  # no call was created: not connected, 503
    UNKNOWN = "unknown"  # the request may have been taken (no answer in time, connection lost after sending, 5xx)
    REFUSED = "refused"  # account, credentials, caller ID: needs a person


class PlacementError(Exception):
    def __init__(self, problem: PlacementProblem, message: str, code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.code = code
        self.retry_after_s = retry_after_s  # Twilio's Retry-After on a rate limit


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


@runtime_checkable
class CallLookup(Protocol):
    def placed_since(self, to: str, caller_id: str, since: datetime) -> list[str]:
        """The CallSids of calls to `to` from `caller_id` created at or after `since` (oldest first); raises
        PlacementError when the provider cannot tell now."""


class ApiBaseHttpClient(TwilioHttpClient):
    """twilio-python's HTTP client sending what it addresses to https://api.twilio.com to `base_url` instead
    (scheme, host and port; the path and query kept)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url == TWILIO_API or url.startswith(TWILIO_API + "/"):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


class TwilioProvider:
    def __init__(self, account_sid: str, auth_token: str, client: Client | None = None,
                 timeout_s: float = API_TIMEOUT_S, api_base_url: str = TWILIO_API) -> None:
        if not account_sid or not auth_token:
            raise ValueError("twilio.account_sid and twilio.auth_token are needed to place calls")
        self._headers: Mapping[str, str] = {}  # of the last response from Twilio's API (its Retry-After)
        # without a timeout a Twilio that never answers would stop the dialer for good
        hooks = {"response": [self._keep_headers]}
        base = api_base_url.rstrip("/")
        http = (TwilioHttpClient(timeout=timeout_s, request_hooks=hooks) if base == TWILIO_API
                else ApiBaseHttpClient(base, timeout=timeout_s, request_hooks=hooks))
        self.client = client or Client(account_sid, auth_token, http_client=http)

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
            raise _classify(exc, self._retry_after()) from exc
        except requests.RequestException as exc:
            raise _network(exc) from exc
        if not call.sid:
            raise PlacementError(PlacementProblem.UNKNOWN, "Twilio returned no CallSid")
        return str(call.sid)

    def placed_since(self, to: str, caller_id: str, since: datetime) -> list[str]:
        try:
            calls = self.client.calls.list(to=to, from_=caller_id or None, limit=50)  # newest first
        except TwilioException as exc:  # a page not fetched (any non-200) comes as the base exception
            problem = PlacementProblem.RATE_LIMITED if "429" in str(exc) else PlacementProblem.TRANSIENT
            raise PlacementError(problem, f"listing calls: {exc}", retry_after_s=self._retry_after()) from exc
        except requests.RequestException as exc:
            raise PlacementError(PlacementProblem.TRANSIENT, f"listing calls: {exc}") from exc
        found = [(c.date_created, str(c.sid)) for c in calls
                 if c.sid and c.date_created is not None and c.date_created >= since - CLOCK_SKEW]
        return [sid for _, sid in sorted(found)]

    def _keep_headers(self, response: requests.Response, *args: object, **kwargs: object) -> requests.Response:
        self._headers = response.headers
        return response

    def _retry_after(self) -> float | None:
        """Retry-After of the response the last request got (Twilio sends it with a 429), in seconds."""
        try:
            return max(0.0, float(self._headers.get("Retry-After", "")))
        except ValueError:
            return None


def _network(exc: requests.RequestException) -> PlacementError:
    """A connection never made sent nothing; any other network failure may have come after Twilio took the
    request (no answer within the timeout, the connection reset while waiting for it)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # requests wraps urllib3's MaxRetryError(reason=...)
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError):
        return PlacementError(PlacementProblem.TRANSIENT, f"network, not connected: {exc}")
    return PlacementError(PlacementProblem.UNKNOWN, f"network, no answer: {type(exc).__name__}: {exc}")


def _classify(exc: TwilioRestException, retry_after_s: float | None = None) -> PlacementError:
    code = exc.code
    text = f"Twilio {code or exc.status}: {exc.msg}"
    if code in INVALID_NUMBER_CODES:
        return PlacementError(PlacementProblem.INVALID_NUMBER, text, code)
    if code in RATE_LIMIT_CODES or exc.status == 429:
        return PlacementError(PlacementProblem.RATE_LIMITED, text, code, retry_after_s)
    if exc.status in NOT_TAKEN_STATUSES:
        return PlacementError(PlacementProblem.TRANSIENT, text, code, retry_after_s)
    if exc.status >= 500:  # a server error while taking the request: the call may have been created
        return PlacementError(PlacementProblem.UNKNOWN, text, code)
    return PlacementError(PlacementProblem.REFUSED, text, code)
