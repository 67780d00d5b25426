"""What streamed capture needs in a web process: the TwiML strategy, the stream tokens, the recogniser, the
REST client that moves live calls, and the registry of the streams this process is serving.

The registry is how a webhook tells the call's stream, when it is served by the same process, that a key or
the <Gather> timeout took the turn (the session re-arms at once), and how the <Gather> timeout learns that the
stream heard speech it could not trust. With several processes a stream also re-reads its call's turn every
`poll_ms` of stream time, and the timeout reports silence instead: the flow re-asks either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dialer.telephony import TWILIO_API, ApiBaseHttpClient
from ivr.capture import Recognizer
from ivr.stream_capture import StreamCapture, StreamTokens
from ivr.stream_session import CallUpdater, DecodeSlots, NoEvents, StreamEvents, StreamSession, StreamSettings

log = logging.getLogger(__name__)
NOT_IN_PROGRESS = 21220  # Twilio: the call is not in progress (it ended), so it cannot be redirected
REDIRECT_TIMEOUT_S = 5.0


class StreamRegistry:
    """The live stream sessions of this process, by CallSid (thread-safe)."""

    def __init__(self) -> None:
        self._sessions: dict[str, StreamSession] = {}
        self._lock = threading.Lock()

    def add(self, call_sid: str, session: StreamSession) -> None:
        with self._lock:
            self._sessions[call_sid] = session

    def remove(self, call_sid: str, session: StreamSession) -> None:
        with self._lock:
            if self._sessions.get(call_sid) is session:
                del self._sessions[call_sid]

    def get(self, call_sid: str) -> StreamSession | None:
        with self._lock:
            return self._sessions.get(call_sid)

    def turn_changed(self, call_sid: str) -> None:
        session = self.get(call_sid)
        if session is not None:
            session.turn_changed()

    def heard_unknown(self, call_sid: str, seq: int) -> dict[str, Any] | None:
        session = self.get(call_sid)
        return session.heard_unknown(seq) if session is not None else None

    def __len__(self) -> int:
        return len(self._sessions)


class TwilioCallUpdater:
    """Redirects a live call with inline TwiML (POST /Calls/{sid}.json Twiml=…, twilio-facts §2.12)."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = TWILIO_API,
                 timeout_s: float = REDIRECT_TIMEOUT_S) -> None:
        base = api_base_url.rstrip("/")
        http = (TwilioHttpClient(timeout=timeout_s) if base == TWILIO_API
                else ApiBaseHttpClient(base, timeout=timeout_s))
        self.client = Client(account_sid, auth_token, http_client=http)

    def redirect(self, call_sid: str, twiml: str) -> bool:
        try:
            self.client.calls(call_sid).update(twiml=twiml)
        except TwilioRestException as exc:
            if exc.code == NOT_IN_PROGRESS:
                log.info("call %s ended before it could be moved on", call_sid)
            else:
                log.error("could not move call %s on: Twilio error %s (HTTP %s)", call_sid, exc.code, exc.status)
            return False
        except (TwilioException, OSError) as exc:
            log.error("could not move call %s on: %s", call_sid, exc)
            return False
        return True


def _timer(seconds: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


@dataclass
class StreamServices:
    capture: StreamCapture
    tokens: StreamTokens
    recognizer: Recognizer
    updater: CallUpdater
    settings: StreamSettings
    start_timeout_ms: int = 3000
    registry: StreamRegistry = field(default_factory=StreamRegistry)
    events: StreamEvents = field(default_factory=NoEvents)
    schedule: Callable[[float, Callable[[], None]], None] = _timer  # run an action after some seconds
    slots: DecodeSlots = field(default_factory=lambda: DecodeSlots(0))  # recognitions at a time, per process
