"""A call's Media Stream as the simulator plays it: stream time, the callee's voice on the inbound track, and the
REST updates that move the live call (docs/streaming.md; issue 18 "the harness plays it too").

Stream time is the virtual clock since the call's <Start><Stream> ran: every virtual millisecond that passes
while the stream is open is sent as 20 ms frames (line silence or noise, with the callee's speech placed on it),
much faster than real time. After each chunk of frames the simulator waits until the app's stream session has
handled them (`StreamSession.wait_processed`), so what the server decides depends on stream time only. A call
update the app sends (ivr.harness.call_updates) takes effect at the stream time it arrived plus the REST latency;
the time passing until then is streamed too.

Faults: the peer never connects (the stream never starts), the connection drops without `stop`, Twilio reports
`stream-error` on the stream's status callback.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal, Protocol

import numpy as np

from ivr.harness.call_updates import CallUpdate, CallUpdates
from ivr.harness.stream_peer import FRAME_MS, PeerRefused, StreamPeer, local_address
from ivr.harness.twiml import Verb
from kit.clock import FrozenClock
from speech.audio import TELEPHONE_RATE, Audio, mulaw_encode

SAMPLES = TELEPHONE_RATE * FRAME_MS // 1000
REGISTER_WAIT_S = 10.0


@dataclass
class StreamOptions:
    """How the simulated callee and Twilio behave on streamed calls."""

    answer_after_ms: int = 300  # the callee starts answering this long after the prompt ends
    barge_in_ms: int = 0  # > 0: the callee starts answering this long before the prompt ends (overrides the above)
    key_after_ms: int | None = None  # also press the answer's key this long after starting to speak
    noise_dbfs: float | None = None  # line noise on every frame; None: digital silence between words
    rest_latency_ms: int = 250  # Twilio's REST round trip: an update takes effect this long after it arrived
    chunk_ms: int = 100  # frames sent before waiting for the server to have handled them
    wait_s: float = 60.0  # the longest wait for the server to handle a chunk (a hung server fails the simulation)
    connect: bool = True  # fault when False: the peer never connects (the stream never starts)
    abort_at_ms: int | None = None  # fault: the connection drops at this stream time, without `stop`
    error_at_ms: int | None = None  # fault: Twilio reports stream-error (and drops the stream) at this stream time


class StreamHost(Protocol):
    """What a stream needs from the app it plays against (LocalHarness provides it)."""

    server_url: str  # where the app is really served (http://127.0.0.1:PORT)
    public_base_url: str
    updates: CallUpdates

    def session(self, call_sid: str) -> Any:
        """The app's live StreamSession of the call (ivr.stream_session), or None."""


class VirtualTimers:
    """The app's `StreamServices.schedule` on the virtual clock: an action runs when the simulated call's time
    passes its due time (the stream start check), on the simulator's thread."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self._due: list[tuple[datetime, int, Callable[[], None]]] = []
        self._count = 0
        self._lock = threading.Lock()

    def schedule(self, seconds: float, action: Callable[[], None]) -> None:
        with self._lock:
            self._count += 1
            heapq.heappush(self._due, (self.clock.now() + timedelta(seconds=seconds), self._count, action))

    def run_due(self) -> None:
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > self.clock.now():
                    return
                _, _, action = heapq.heappop(self._due)
            action()


@dataclass(frozen=True)
class Interrupt:
    kind: Literal["update", "key"]
    at_ms: int
    update: CallUpdate | None = None


@dataclass
class Speech:
    """The callee's voice placed on the inbound track: `audio` (8 kHz) starting at stream time `at_ms`."""

    audio: Audio
    at_ms: int

    @property
    def end_ms(self) -> int:
        return self.at_ms + len(self.audio.samples) * 1000 // TELEPHONE_RATE


@dataclass
class StreamLeg:
    """One call's stream from its <Start><Stream> to the end of the call."""

    host: StreamHost
    clock: FrozenClock
    options: StreamOptions
    timers: VirtualTimers
    call_sid: str
    account_sid: str
    auth_token: str
    status_callback: Callable[[str, dict[str, str]], None]  # (url, form): a signed status callback
    url: str = ""
    name: str = ""
    status_url: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    peer: StreamPeer | None = None
    session: Any = None  # the app's StreamSession, kept after the app lets it go (its decisions)
    refused: int | None = None  # the handshake's HTTP status when the server refused it
    started: datetime = field(default_factory=datetime.now)
    _thread: int = 0
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    _aborted: bool = False
    _errored: bool = False

    # -- opening and closing ------------------------------------------------------------------------

    def open(self, stream: Verb) -> None:
        """The <Stream> of a <Start> verb: Twilio connects at once and goes on with the next verb."""
        self.url = stream.attr("url")
        if self.url.startswith("/"):
            self.url = self.host.public_base_url.replace("https://", "wss://", 1) + self.url
        self.name = stream.attr("name")
        self.status_url = stream.attr("statusCallback")
        self.parameters = {p.attr("name"): p.attr("value") for p in stream.children if p.name == "Parameter"}
        self.started = self.clock.now()
        self._thread = threading.get_ident()
        self.host.updates.stream_ms = self.arrival_ms
        if not self.options.connect:
            return
        peer = StreamPeer(self.url, local_address(self.url, self.host.public_base_url, self.host.server_url),
                          self.auth_token, self.account_sid, self.call_sid, self.parameters)
        try:
            peer.connect()
        except PeerRefused as exc:
            self.refused = exc.status
            return
        self.peer = peer
        peer.start()
        self.session = self._registered()
        if self.session is not None:
            self._status("stream-started")

    def _registered(self) -> Any:
        """The app's session once it has taken the `start` (None if it refused the stream)."""
        deadline = time.monotonic() + REGISTER_WAIT_S
        assert self.peer is not None
        assert self.peer._ws is not None
        while time.monotonic() < deadline:
            session = self.host.session(self.call_sid)
            if session is not None:
                return session
            if not self.peer._ws.connected:  # noqa: SLF001 - the server closed the stream: refused
                return None
            time.sleep(0.002)  # the server's reader thread is taking the start message
        return None

    def _released(self) -> None:
        """After a dropped connection: wait until the app has finished with the stream (its close handling, a
        fallback redirect included), so what it does happens at this stream time."""
        if self.session is None:
            return
        deadline = time.monotonic() + self.options.wait_s
        while self.host.session(self.call_sid) is self.session:
            if time.monotonic() > deadline:
                raise TimeoutError(f"call {self.call_sid}: the app did not let the dropped stream go")
            time.sleep(0.002)  # the app's stream thread is handling the close

    def close(self) -> None:
        """The call ended: Twilio stops the stream (`stop`) and reports it."""
        if self.peer is not None and not self.peer.closed:
            self.peer.stop()
            self._status("stream-stopped")

    def _status(self, event: str, error: str = "") -> None:
        if not self.status_url or self.peer is None:
            return
        form = {"AccountSid": self.account_sid, "CallSid": self.call_sid, "StreamSid": self.peer.stream_sid,
                "StreamName": self.name, "StreamEvent": event,
                "Timestamp": format_datetime(self.clock.now(), usegmt=True)}
        if error:
            form["StreamError"] = error
        self.status_callback(self.status_url, form)

    # -- stream time ----------------------------------------------------------------------------------

    def ms(self) -> int:
        return round((self.clock.now() - self.started).total_seconds() * 1000)

    def arrival_ms(self, call_sid: str) -> int:  # noqa: ARG002 - one leg per call in flight
        """The stream time an update arrives at: now on the simulator's thread (a webhook, a timer); on the
        app's stream thread, the end of the frame it is handling."""
        if threading.get_ident() == self._thread or self.session is None or self.session.closed:
            return self.ms()  # (a closed session: the harness waits for the app to finish with it)
        return int(self.session.processed_ms) + 2 * FRAME_MS

    def advance(self, until_ms: int, speech: Speech | None = None, key_at_ms: int | None = None) -> Interrupt | None:
        """Stream time passes to `until_ms` (frames sent, timers run), unless a call update takes effect or the
        callee presses a key first. A pending update whose time falls later is waited for."""
        while True:
            self.timers.run_due()
            now = self.ms()
            update = self.host.updates.peek(self.call_sid)
            effective = update.at_ms + self.options.rest_latency_ms if update is not None else None
            if update is not None and effective is not None and effective <= now:
                self.host.updates.take(self.call_sid)
                return Interrupt("update", now, update)
            if key_at_ms is not None and key_at_ms <= now:
                return Interrupt("key", now)
            if now >= until_ms and effective is None:
                return None
            stops = [now + self.options.chunk_ms - now % self.options.chunk_ms, max(until_ms, effective or 0)]
            stops += [t for t in (effective, key_at_ms, self.options.abort_at_ms, self.options.error_at_ms)
                      if t is not None and t > now]
            self._send(now, min(stops), speech)
            self._faults()

    def _send(self, start_ms: int, end_ms: int, speech: Speech | None) -> None:
        """Frames covering [start_ms, end_ms) (whole frames; the clock follows them) and the wait for the app."""
        frames = max(1, (end_ms - start_ms + FRAME_MS - 1) // FRAME_MS)
        sending = self.peer is not None and not self.peer.closed
        last = -1
        for index in range(frames):
            at = start_ms + index * FRAME_MS
            if sending and self.peer is not None:
                if self.peer.sent_ms < at:  # stream time passed with nothing sent (never, but keep stamps true)
                    self.peer.sent_ms = at - at % FRAME_MS
                last = self.peer.sent_ms
                sending = self.peer.media(self._frame(at, speech))
        self.clock.advance(timedelta(milliseconds=frames * FRAME_MS))
        if last >= 0 and self.session is not None and not self.session.wait_processed(last, self.options.wait_s):
            raise TimeoutError(f"call {self.call_sid}: the app did not handle stream frame {last} ms "
                               f"within {self.options.wait_s} s")

    def _frame(self, at_ms: int, speech: Speech | None) -> bytes:
        if self.options.noise_dbfs is None:
            samples = np.zeros(SAMPLES, dtype=np.float64)
        else:
            samples = self._rng.normal(0.0, 32768.0 * 10 ** (self.options.noise_dbfs / 20), SAMPLES)
        if speech is not None and speech.at_ms < at_ms + FRAME_MS and at_ms < speech.end_ms:
            offset = (at_ms - speech.at_ms) * TELEPHONE_RATE // 1000
            lo, hi = max(0, offset), max(0, offset + SAMPLES)
            part = speech.audio.samples[lo:hi].astype(np.float64)
            start = lo - offset
            samples[start:start + len(part)] += part
        return mulaw_encode(np.clip(np.round(samples), -32768, 32767).astype(np.int16))

    def _faults(self) -> None:
        now = self.ms()
        if self.options.abort_at_ms is not None and now >= self.options.abort_at_ms and not self._aborted:
            self._aborted = True
            if self.peer is not None:
                self.peer.abort()
                self._released()
        if self.options.error_at_ms is not None and now >= self.options.error_at_ms and not self._errored:
            self._errored = True
            if self.peer is not None and not self.peer.closed:
                self._status("stream-error", "31920: Stream - WebSocket - Connection Broken Pipe")
                self.peer.abort()
                self._released()
