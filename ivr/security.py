"""X-Twilio-Signature checks (docs/twilio-facts.md §2.9) against the public URL Twilio requested."""

from __future__ import annotations

import logging

from flask import Request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


class SignatureCheck:
    def __init__(self, auth_token: str, public_base_url: str, enabled: bool = True) -> None:
        if enabled and not auth_token:
            raise ValueError("twilio.auth_token is empty, so no webhook could be verified: set "
                             "HUIFANG__TWILIO__AUTH_TOKEN (or turn twilio.validate_signatures off for local tests)")
        self.enabled = enabled
        self.base_url = public_base_url
        self._validator = RequestValidator(auth_token)
        if not enabled:
            log.warning("TWILIO SIGNATURE VALIDATION IS OFF: anyone who can reach this app can drive its calls "
                        "(twilio.validate_signatures = false)")

    def public_url(self, request: Request, base_url: str | None = None) -> str:
        """The URL as Twilio requested it: the configured public base (or `base_url`, e.g. the fallback host's)
        + path + query, never the proxied URL."""
        query = request.query_string.decode("latin-1")
        return f"{base_url or self.base_url}{request.path}" + (f"?{query}" if query else "")

    def valid_for(self, request: Request, url: str) -> bool:
        """A request without parameters signed for `url` (the Media Streams WebSocket: Twilio signs its wss URL)."""
        if not self.enabled:
            return True
        signature = request.headers.get("X-Twilio-Signature", "")
        return bool(signature) and bool(self._validator.validate(url, {}, signature))

    def valid(self, request: Request, base_url: str | None = None) -> bool:
        if not self.enabled:
            return True
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return False
        params = request.form if request.method == "POST" else {}
        return bool(self._validator.validate(self.public_url(request, base_url), params, signature))
