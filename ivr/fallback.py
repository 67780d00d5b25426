"""Twilio's fallback request (docs/twilio-facts.md §2.10), read into the request that failed.

When a voice webhook (the call's Url, a verb's action, a <Redirect>) answers non-2xx, returns invalid TwiML or
gives no answer within 15 s, Twilio requests the call's FallbackUrl with the parameters it had sent plus
`ErrorCode` and `ErrorUrl` (the URL that failed, query included). The fallback route answers it as the failed
route would have: same handler, same parameters, so the turn numbers decide whether the answer is taken now
or was taken already (then the stored document is replayed). Status and recording callbacks return no TwiML
and have no fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import MultiDict

from ivr.forms import require
from ivr.services import IvrError

ROUTES = ("answer", "turn", "dial", "message")  # the voice webhooks whose TwiML a fallback can stand in for
ADDED = ("ErrorCode", "ErrorUrl")
ERROR_CODE = re.compile(r"[0-9]{1,8}", re.ASCII)
MAX_URL = 2048


@dataclass(frozen=True)
class FailedRequest:
    route: str  # one of ROUTES
    args: MultiDict[str, str]  # the failed URL's query
    form: MultiDict[str, str]  # the parameters as the failed route got them (without ErrorCode / ErrorUrl)
    error_code: str
    error_url: str


def failed_request(form: MultiDict[str, str], public_base_url: str) -> FailedRequest:
    """The request a fallback stands in for; a 400 (IvrError) when it names none of this app's voice routes."""
    code, url = require(form, "ErrorCode"), require(form, "ErrorUrl")
    if not ERROR_CODE.fullmatch(code):
        raise IvrError(f"ErrorCode must be a Twilio error number, got {code[:40]!r}")
    prefix = f"{public_base_url}/twilio/voice/"
    if len(url) > MAX_URL or not url.startswith(prefix):
        raise IvrError(f"ErrorUrl {url[:200]!r} is not one of this app's voice webhooks ({prefix}…)")
    parts = urlsplit(url)
    route = url[len(prefix):].split("?", 1)[0].split("#", 1)[0]
    if route not in ROUTES:
        raise IvrError(f"ErrorUrl {url[:200]!r}: /twilio/voice/{route[:40]} has no fallback "
                       f"(only {', '.join(ROUTES)})")
    args = MultiDict(parse_qsl(parts.query, keep_blank_values=True))
    rest = MultiDict([(k, v) for k, v in form.items(multi=True) if k not in ADDED])
    return FailedRequest(route, args, rest, code, url)

