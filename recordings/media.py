"""Downloading media Twilio announces (answer recordings, call recordings) with the account's credentials.

Twilio may announce a recording before its media can be fetched (rapidpro#604): a 404 is tried again,
a bounded number of times. The wait is injectable so tests never sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

RETRYABLE = frozenset({404, 409, 429, 500, 502, 503, 504})


class MediaUnavailable(RuntimeError):
    """Not fetched after the allowed tries; the message says what the last try returned."""


@dataclass
class MediaClient:
    account_sid: str
    auth_token: str
    sleep: Callable[[float], None] = time.sleep
    timeout_s: float = 10.0
    http: requests.Session = field(default_factory=requests.Session)

    def fetch(self, url: str, attempts: int, wait_s: float, backoff: float = 1.0) -> bytes:
        """GET `url` as WAV (Twilio's default format when the URL has no extension)."""
        if not url.startswith(("https://", "http://")):
            raise MediaUnavailable(f"not a media URL: {url!r}")
        if "." not in urlsplit(url).path.rsplit("/", 1)[-1]:
            url += ".wav"
        last = ""
        wait = wait_s
        for attempt in range(1, attempts + 1):
            try:
                reply = self.http.get(url, auth=(self.account_sid, self.auth_token), timeout=self.timeout_s)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if reply.status_code == 200 and reply.content:
                    return reply.content
                last = f"HTTP {reply.status_code}"
                if reply.status_code not in RETRYABLE:
                    break
            if attempt < attempts:
                self.sleep(wait)
                wait *= backoff
        raise MediaUnavailable(f"{url}: not available after {attempt} tries ({last})")
