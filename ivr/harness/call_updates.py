"""Twilio's call-update REST endpoint, simulated: `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`
with `Twiml` (or `Url`, `Method`; or `Status=completed|canceled`), as the app's TwilioCallUpdater sends it through
twilio-python (docs/streaming.md §2.3, twilio-facts §2.12).

Served as a requests transport adapter mounted on the updater's HTTP session (as MediaHost serves recordings), so
the real client path runs: Basic auth with the account SID and token is checked (401, code 20003), an unknown
account or call is 404 (20404), a call that is not in progress is HTTP 400 with code 21220, and a good update
answers Twilio's call JSON. Each accepted update is kept with the stream time it arrived at; the simulator
replaces the call's current document with it (after the configured REST latency).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

API = "https://api.twilio.com"
CALL_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Calls/(?P<call>CA[0-9a-f]{32})\.json$")


@dataclass(frozen=True)
class CallUpdate:
    """An accepted update: the TwiML (or URL) to run now, and the call's stream time when it arrived."""

    call_sid: str
    twiml: str
    url: str
    method: str
    status: str
    at_ms: int


class CallUpdates(BaseAdapter):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}  # CallSid → in-progress | completed
        self._pending: dict[str, list[CallUpdate]] = {}
        self.accepted: list[CallUpdate] = []  # every accepted update, in order
        self.refused: list[tuple[str, int]] = []  # (CallSid, Twilio error code)
        self.stream_ms: Callable[[str], int] = lambda call_sid: 0  # set by the simulator: the call's stream time

    # -- the simulator's side -----------------------------------------------------------------------

    def live(self, call_sid: str) -> None:
        with self._lock:
            self._status[call_sid] = "in-progress"

    def ended(self, call_sid: str) -> None:
        with self._lock:
            self._status[call_sid] = "completed"
            self._pending.pop(call_sid, None)

    def take(self, call_sid: str) -> CallUpdate | None:
        """The oldest update not yet run for the call (the simulator runs it), or None."""
        with self._lock:
            pending = self._pending.get(call_sid)
            return pending.pop(0) if pending else None

    def peek(self, call_sid: str) -> CallUpdate | None:
        with self._lock:
            pending = self._pending.get(call_sid)
            return pending[0] if pending else None

    # -- Twilio's side ------------------------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, stream: bool = False,  # noqa: ARG002 - requests' signature
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,  # noqa: ARG002
             verify: bool | str = True, cert: Any = None,  # noqa: ARG002
             proxies: Mapping[str, str] | None = None) -> requests.Response:  # noqa: ARG002
        status, body = self._answer(request)
        response = requests.Response()
        response.request = request
        response.url = request.url or ""
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response._content = json.dumps(body).encode()  # noqa: SLF001 - a complete response, as requests builds one
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, Any]]:
        url = request.url or ""
        path = url[len(API):].split("?", 1)[0] if url.startswith(API) else url
        match = CALL_PATH.match(path)
        if request.method != "POST" or match is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if not self._authorised(request.headers.get("Authorization", "")):
            return _error(401, 20003, "Authenticate")
        call_sid = match["call"]
        with self._lock:
            status = self._status.get(call_sid) if match["account"] == self.account_sid else None
        if status is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        form = {k: v[-1] for k, v in parse_qs(_body(request), keep_blank_values=True).items()}
        twiml, target, new_status = form.get("Twiml", ""), form.get("Url", ""), form.get("Status", "")
        if not (twiml or target or new_status):
            return _error(400, 20001, "Missing required parameter Url, Twiml or Status")
        if status != "in-progress":
            self.refused.append((call_sid, 21220))
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        update = CallUpdate(call_sid, twiml, target, form.get("Method", "POST"), new_status, self.stream_ms(call_sid))
        with self._lock:
            self._pending.setdefault(call_sid, []).append(update)
            self.accepted.append(update)
        return 200, self._call_json(call_sid, path)

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _call_json(self, call_sid: str, path: str) -> dict[str, Any]:
        return {"sid": call_sid, "account_sid": self.account_sid, "status": "in-progress", "direction": "outbound-api",
                "api_version": "2010-04-01", "from": "+861085550000", "to": "", "answered_by": None,
                "parent_call_sid": None, "price": None, "price_unit": "USD", "duration": None,
                "date_created": None, "date_updated": None, "start_time": None, "end_time": None,
                "uri": path, "subresource_uris": {"recordings": path.replace(".json", "/Recordings.json"),
                                                   "streams": path.replace(".json", "/Streams.json")}}


def _body(request: requests.PreparedRequest) -> str:
    body = request.body or ""
    return body.decode() if isinstance(body, bytes) else str(body)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}
