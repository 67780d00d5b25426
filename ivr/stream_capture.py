"""Streamed answer capture: the TwiML side (issue 18, docs/streaming.md).

One <Start><Stream> per call, in its first document, forks the caller's audio (inbound track only) to the
WebSocket route; its token travels as a <Parameter> (Twilio strips query strings from the stream URL). Each
question then plays inside <Gather input="dtmf">, so keys keep working, followed by the no-input <Redirect>;
the spoken answer is decided from the stream (ivr.stream_session) and the live call is moved on by REST.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from twilio.twiml.voice_response import Start, VoiceResponse

from calls.inputs import Heard
from flows.engine import CallerInput, InputKind
from ivr.capture import gather_keys, read_keys_or_nothing

STREAM_NAME = "answers"  # unique per call; names the stream to stop it
STREAM_PATH = "/twilio/stream"
STATUS_PATH = "/twilio/stream/status"


def stream_url(public_base_url: str) -> str:
    """The WebSocket URL Twilio opens: the public base with ws(s), no query string."""
    scheme, _, rest = public_base_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{STREAM_PATH}"


@dataclass(frozen=True)
class StreamTokens:
    """The token a call's stream carries: HMAC-SHA256 of its CallSid under a server secret. A stream whose
    token does not match the CallSid in its `start` message is refused and changes nothing."""

    secret: bytes

    def mint(self, call_sid: str) -> str:
        return hmac.new(self.secret, f"media-stream:{call_sid}".encode(), hashlib.sha256).hexdigest()[:40]

    def valid(self, call_sid: str, token: str) -> bool:
        return hmac.compare_digest(self.mint(call_sid).encode(), token.encode("utf-8", "replace"))


def start_stream(response: VoiceResponse, public_base_url: str, token: str) -> None:
    """<Start><Stream track="inbound_track"> with the token; TwiML goes on at once with the next verb."""
    start = Start()
    stream = start.stream(name=STREAM_NAME, url=stream_url(public_base_url), track="inbound_track",
                          status_callback=f"{public_base_url}{STATUS_PATH}", status_callback_method="POST")
    stream.parameter(name="token", value=token)
    response.append(start)


@dataclass
class StreamCapture:
    """Prompts inside a DTMF <Gather>: a key answers at once; a spoken answer comes from the stream."""

    timeout_s: int = 5
    name: str = "stream"

    def listen(self, response: VoiceResponse, prompt_urls: Sequence[str], action: str, no_input: str) -> None:
        gather_keys(response, prompt_urls, action, no_input, 1, self.timeout_s)

    def read(self, form: Mapping[str, str], no_input: bool) -> Heard:
        return read_keys_or_nothing(form, no_input) or Heard(CallerInput(InputKind.SILENCE), {"source": "stream"})
