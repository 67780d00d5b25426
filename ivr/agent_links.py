"""Capabilities for the agent's context page of a handed-off call: expiring, single-purpose tokens.

A token is `EXPIRES.MAC`: EXPIRES in Unix seconds, MAC an HMAC-SHA256 (base64url) over its purpose, the
call, the agent line the call was handed to (calls.handoff_target) and EXPIRES. So a token opens one call's
page, only while that call is with that agent line, only for its purpose, and only until it expires:

- LINK: what a hand-off sends the agent (`ivr.agent_link_minutes`); it is in a URL, so it is only ever
  exchanged, once opened, for
- SESSION: a cookie on that call's page only (`ivr.agent_session_minutes`, HttpOnly, SameSite=Strict),
  which is what the page and its outcome form accept. The link's token then leaves the address bar, the
  history and the Referer; only the first request's log line holds it (kit.wire.redact_query hides it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kit.wire import whole_number

MAX_TOKEN = 80


class Purpose(StrEnum):
    LINK = "agent-link"
    SESSION = "agent-session"


@dataclass(frozen=True)
class AgentTokens:
    secret: bytes
    link_ttl: timedelta
    session_ttl: timedelta

    def mint(self, purpose: Purpose, call_sid: str, agent_line: str, now: datetime) -> str:
        ttl = self.link_ttl if purpose is Purpose.LINK else self.session_ttl
        expires = int((now + ttl).timestamp())
        return f"{expires}.{self._mac(purpose, call_sid, agent_line, expires)}"

    def valid(self, token: str, purpose: Purpose, call_sid: str, agent_line: str, now: datetime) -> bool:
        """Whether `token` is one we minted for this purpose, call and agent line, and has not expired. Any
        string may come in (a forged link, junk): it is checked, never trusted, never an error."""
        if not token or len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 1:
            return False
        raw_expires, mac = token.split(".")
        try:
            expires = whole_number(raw_expires, 2**40)
        except ValueError:
            return False
        if expires <= now.timestamp():
            return False
        return hmac.compare_digest(mac.encode(), self._mac(purpose, call_sid, agent_line, expires).encode())

    def _mac(self, purpose: Purpose, call_sid: str, agent_line: str, expires: int) -> str:
        message = "\n".join((purpose.value, call_sid, agent_line, str(expires))).encode()
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secret_for(agent_page_secret: str, auth_token: str) -> bytes:
    """ivr.agent_page_secret, else one derived from the Twilio auth token (never the token itself)."""
    if agent_page_secret:
        return agent_page_secret.encode()
    return hashlib.sha256(("agent-page:" + auth_token).encode()).hexdigest().encode()
