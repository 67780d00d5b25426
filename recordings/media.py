"""Downloading media Twilio announces (answer recordings, call recordings) with the account's credentials.

Twilio may announce a recording before its media can be fetched (rapidpro#604): a 404 is tried again,
a bounded number of times. The wait is injectable so tests never sleep.

The credentials go only to Twilio: a URL is fetched only when its origin (scheme, host, port) is the API's
(`twilio.api_base_url`, https) or one of `twilio.media_hosts` (https); never over plain http unless the
configured origin itself is a loopback one (the harness). A body larger than the cap is cut off and refused.
"""

from __future__ import annotations

import io
import struct
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from kit.settings import RecordingSettings, TwilioSettings
from kit.wire import origin

RETRYABLE = frozenset({404, 409, 429, 500, 502, 503, 504})
TWILIO_API = "https://api.twilio.com"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAX_URL = 512  # the width of recordings.source_url
CHUNK = 64 * 1024


class MediaUnavailable(RuntimeError):
    """Not fetched after the allowed tries; the message says what the last try returned."""


class MediaRefused(MediaUnavailable):
    """Not fetched, or not kept, on principle: a URL off Twilio's hosts, a body too large, not a WAV."""


def allowed_origins(twilio: TwilioSettings) -> tuple[str, ...]:
    """Where recordings may be fetched with the account's credentials (validated in huifang.config)."""
    found = [origin(twilio.api_base_url.rstrip("/")), *(origin(f"https://{host}") for host in twilio.media_hosts)]
    return tuple(dict.fromkeys(o for o in found if o is not None))


@dataclass
class MediaClient:
    account_sid: str
    auth_token: str
    sleep: Callable[[float], None] = time.sleep
    timeout_s: float = 10.0
    http: requests.Session = field(default_factory=requests.Session)
    origins: tuple[str, ...] = (TWILIO_API,)
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_settings(cls, twilio: TwilioSettings, recordings: RecordingSettings,
                      sleep: Callable[[float], None] = time.sleep) -> MediaClient:
        return cls(twilio.account_sid, twilio.auth_token, sleep=sleep, origins=allowed_origins(twilio),
                   max_bytes=recordings.max_download_mb * 1024 * 1024)

    def refusal(self, url: str) -> str | None:
        """Why `url` is not fetched with the account's credentials; None when it may be."""
        if len(url) > MAX_URL:
            return f"a media URL longer than {MAX_URL} characters"
        found = origin(url)
        if found is None:
            return f"not a media URL (http or https): {url[:80]!r}"
        if found not in self.origins:
            return (f"{found} is not one of Twilio's media hosts ({', '.join(self.origins)}; twilio.api_base_url, "
                    "twilio.media_hosts): the account's credentials are not sent there")
        return None

    def fetch(self, url: str, attempts: int, wait_s: float, backoff: float = 1.0) -> bytes:
        """GET `url` as WAV (Twilio's default format when the URL has no extension)."""
        problem = self.refusal(url)
        if problem is not None:
            raise MediaRefused(problem)
        if "." not in urlsplit(url).path.rsplit("/", 1)[-1]:
            url += ".wav"
        last = ""
        wait = wait_s
        for attempt in range(1, attempts + 1):
            try:
                reply = self.http.get(url, auth=(self.account_sid, self.auth_token), timeout=self.timeout_s,
                                      stream=True)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    if reply.status_code == 200:
                        data, last = self._body(url, reply)
                        if data:
                            return data
                    else:
                        last = f"HTTP {reply.status_code}"
                        if reply.status_code not in RETRYABLE:
                            break
                        if _seconds(reply.headers.get("Retry-After")) > wait:  # Twilio asks for longer than
                            last += f", Retry-After {reply.headers['Retry-After']} s"  # this download waits:
                            break  # the retry job's turn
                finally:
                    if reply.raw is not None:  # a transport adapter may have set no body
                        reply.close()
            if attempt < attempts:
                self.sleep(wait)
                wait *= backoff
        raise MediaUnavailable(f"{url}: not available after {attempt} tries ({last})")

    def _body(self, url: str, reply: requests.Response) -> tuple[bytes, str]:
        """The body (or b"" and why not), read in chunks and refused as soon as it passes max_bytes (the
        Content-Length header may lie or be missing)."""
        declared = reply.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            raise MediaRefused(f"{url}: {declared} bytes, more than the {self.max_bytes} bytes allowed "
                               "(recordings.max_download_mb)")
        buffer = bytearray()
        try:
            for chunk in reply.iter_content(CHUNK) if reply.raw is not None else ():
                buffer += chunk
                if len(buffer) > self.max_bytes:
                    raise MediaRefused(f"{url}: more than the {self.max_bytes} bytes allowed "
                                       "(recordings.max_download_mb)")
        except requests.RequestException as exc:
            return b"", f"{type(exc).__name__}: {exc}"
        return bytes(buffer), "" if buffer else "HTTP 200 with an empty body"


def wav_problem(data: bytes) -> str | None:
    """Why `data` is not a complete WAV recording (a RIFF header alone, a cut-off body, no audio); None if it is."""
    try:
        with wave.open(io.BytesIO(data)) as audio:
            frames, width, channels = audio.getnframes(), audio.getsampwidth(), audio.getnchannels()
            rate = audio.getframerate()
            body = audio.readframes(frames)
    except (wave.Error, EOFError, struct.error, ValueError, OverflowError) as exc:
        return f"not a WAV file ({exc or type(exc).__name__})"
    if channels < 1 or width < 1 or rate < 1:
        return f"not a usable WAV file ({channels} channels, {width}-byte samples, {rate} Hz)"
    if frames == 0:
        return "a WAV file without audio"
    expected = frames * width * channels
    if len(body) < expected:
        return f"a truncated WAV file ({len(body)} of {expected} bytes of audio)"
    return None


def _seconds(retry_after: str | None) -> float:
    """A Retry-After given in seconds (0 when absent or given as a date)."""
    try:
        return float(retry_after or 0)
    except ValueError:
        return 0.0
