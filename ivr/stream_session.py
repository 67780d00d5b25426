"""One call's Media Stream: Twilio's messages in, answers out (issue 18, docs/streaming.md §2, §6).

Pure: no sockets and no wall-clock waits. The WebSocket route (ivr.web_stream) hands each message to `feed`;
the database, the recogniser and Twilio's REST API come in as ports, so tests drive a session with message
dicts. All decisions run on the stream's own clock (`media.timestamp`, ms since the stream started): frames
sent faster than real time give the same decisions.

Per question: the session is armed at the call's current turn when that turn listens for a spoken answer; the
endpointer (speech.stream) finds the end of the caller's speech; the recogniser decides it with the same
defences as a recorded answer (speech.asr); a yes, no, repeat or a person asked for moves the call on through
one compare-and-set (calls.streamed.answer), then the live call is redirected to the next document (barge-in:
the prompt still playing is cut short). Speech the recogniser cannot trust does not interrupt: it is kept for
the <Gather> timeout to report. The question's audio is kept with the call (as the <Record> answers are).

The session never sends anything back: on a one-way stream Twilio would take it as a protocol error (31951).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from calls.inputs import Heard
from calls.streamed import Listening
from flows.engine import CallerInput
from ivr.capture import INTENT_INPUT, Recognizer
from ivr.stream_capture import StreamTokens
from speech.audio import TELEPHONE_RATE, Audio, mulaw_decode
from speech.lexicon import Intent
from speech.stream import Endpointer, EndpointSettings, Utterance

log = logging.getLogger(__name__)
MOVES_ON = (Intent.YES, Intent.NO, Intent.REPEAT, Intent.HUMAN)  # trusted answers that interrupt the prompt
MAX_QUESTION_MS = 120_000  # audio kept per question at most (a caller who talks on and on)


class StreamRefused(Exception):
    """A stream that may not drive a call (no or a wrong token, an unknown or finished call): closed unheard."""


class StreamPort(Protocol):
    """The call rules as a stream sees them; each method runs its own transaction and commits."""

    def open(self, call_sid: str, detail: dict[str, Any]) -> Listening | None:
        """The stream started; None when the call does not take its answers from a stream."""

    def where(self, call_sid: str) -> Listening | None: ...

    def answer(self, call_sid: str, seq: int, heard: Heard, audio: Audio) -> str | None:
        """Take the answer to turn `seq` (compare-and-set); the document to redirect the call to, or None."""

    def record_instead(self, call_sid: str, reason: str) -> str | None:
        """The stream failed: the call records its answers; the document to redirect it to, if any."""


class CallUpdater(Protocol):
    def redirect(self, call_sid: str, twiml: str) -> bool:
        """Move the live call to `twiml` (Twilio: POST /Calls/{sid} Twiml=…); False when it has ended."""


class StreamEvents(Protocol):
    """What a session reports for metrics (huifang.serving.metrics)."""

    def count(self, event: str) -> None: ...

    def observe(self, name: str, seconds: float) -> None: ...


class NoEvents:
    def count(self, event: str) -> None:
        pass

    def observe(self, name: str, seconds: float) -> None:
        pass


@dataclass(frozen=True)
class StreamSettings:
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    max_lag_ms: int = 1500  # decoding this far behind the audio's real time: the call records instead
    poll_ms: int = 1000  # stream time between reads of the call's turn (a key taken by another process)
    model: str = ""  # the recogniser's model directory name, kept with each answer (quality review measures)


class DecodeSlots:
    """At most `slots` recognitions at a time in this process; the others wait their turn. Decodes that share
    a core all finish late, queued ones finish in order (bench/turn_gap.py: 50 streams on one core kept a
    decode p95 of 137 ms with one slot, 223-239 ms with none)."""

    def __init__(self, slots: int) -> None:
        self._gate = threading.BoundedSemaphore(slots) if slots > 0 else None

    def __enter__(self) -> None:
        if self._gate is not None:
            self._gate.acquire()

    def __exit__(self, *_: object) -> None:
        if self._gate is not None:
            self._gate.release()


@dataclass(frozen=True)
class Decision:
    """A streamed answer that moved the call on, with its timings (the turn gap's parts)."""

    seq: int
    intent: Intent
    speech_end_ms: int  # stream time the caller stopped speaking
    decided_ms: int  # stream time the endpointer decided the answer had ended
    decode_ms: float  # recognition (wall time)
    commit_ms: float  # the compare-and-set transaction (wall time)
    redirect_ms: float  # Twilio's REST call (wall time)

    @property
    def gap_ms(self) -> float:
        """End of the caller's speech → the redirect is in Twilio's hands (stream time plus work done)."""
        return self.decided_ms - self.speech_end_ms + self.decode_ms + self.commit_ms + self.redirect_ms


class StreamSession:
    def __init__(self, port: StreamPort, updater: CallUpdater, recognizer: Recognizer, tokens: StreamTokens,
                 settings: StreamSettings | None = None, events: StreamEvents | None = None,
                 wall: Callable[[], float] = time.monotonic, slots: DecodeSlots | None = None) -> None:
        self.port, self.updater, self.recognizer, self.tokens = port, updater, recognizer, tokens
        self.slots = slots or DecodeSlots(0)
        self.settings = settings or StreamSettings()
        self.events = events or NoEvents()
        self.wall = wall
        self.call_sid = ""
        self.stream_sid = ""
        self.armed: Listening | None = None  # the turn the session listens for
        self.endpointer = Endpointer(self.settings.endpoint, TELEPHONE_RATE)
        self.audio: list[np.ndarray] = []  # this question's frames
        self.audio_ms = 0
        self.unknown: dict[int, dict[str, Any]] = {}  # turn → the last speech heard but not trusted
        self.decisions: list[Decision] = []
        self.recording = False  # the call fell back to <Record>: frames are drained, nothing decided
        self.closed = False
        self._started_wall = 0.0
        self._last_poll_ms = 0
        self._stale = threading.Event()  # set by another thread (a webhook took the turn): re-read it
        self.processed_ms = -1  # the stream time of the last media frame handled (decisions included)
        self._progress = threading.Condition()

    # -- messages ---------------------------------------------------------------------------------

    def feed(self, message: Mapping[str, Any]) -> None:
        """One message from Twilio (already parsed from JSON)."""
        event = message.get("event")
        if self.closed:
            return
        if event == "start":
            self._start(message)
        elif event == "media":
            if not self.call_sid:
                raise StreamRefused("media before start")
            try:
                self._media(message)
            finally:
                self._processed(message)
        elif event == "stop":
            self.close("stop")
        # connected, mark (not sent on a one-way stream) and anything new: nothing to do

    def wait_processed(self, timestamp_ms: int, timeout_s: float) -> bool:
        """Block until the frame at `timestamp_ms` (or a later one) has been handled, or the session closed. For
        a simulated Twilio that sends faster than real time and keeps stream time deterministic (ivr.harness)."""
        with self._progress:
            return self._progress.wait_for(lambda: self.processed_ms >= timestamp_ms or self.closed, timeout_s)

    def _processed(self, message: Mapping[str, Any]) -> None:
        media = message.get("media")
        try:
            at = int(media.get("timestamp", "")) if isinstance(media, Mapping) else -1
        except ValueError:
            at = -1
        with self._progress:
            self.processed_ms = max(self.processed_ms, at)
            self._progress.notify_all()

    def turn_changed(self) -> None:
        """Another thread changed the call's turn (a key, the <Gather> timeout): re-arm at the next frame."""
        self._stale.set()

    def close(self, why: str) -> None:
        if not self.closed:
            with self._progress:
                self.closed = True
                self._progress.notify_all()
            self.events.count(f"closed_{why}")

    def heard_unknown(self, seq: int) -> dict[str, Any] | None:
        """Speech heard during turn `seq` that the recogniser did not trust (for the <Gather> timeout)."""
        return self.unknown.get(seq)

    # -- start and media --------------------------------------------------------------------------

    def _start(self, message: Mapping[str, Any]) -> None:
        start = message.get("start")
        if not isinstance(start, Mapping):
            raise StreamRefused("start message without start")
        call_sid = str(start.get("callSid", ""))
        params = start.get("customParameters")
        token = str(params.get("token", "")) if isinstance(params, Mapping) else ""
        if not call_sid or not self.tokens.valid(call_sid, token):
            self.events.count("refused")
            raise StreamRefused(f"stream for call {call_sid or '?'}: missing or wrong token")
        media_format = start.get("mediaFormat") if isinstance(start.get("mediaFormat"), Mapping) else {}
        assert isinstance(media_format, Mapping)
        if (media_format.get("encoding", "audio/x-mulaw") != "audio/x-mulaw"
                or int(media_format.get("sampleRate", TELEPHONE_RATE)) != TELEPHONE_RATE):
            self.events.count("refused")
            raise StreamRefused(f"stream for call {call_sid}: unexpected media format {dict(media_format)}")
        self.stream_sid = str(message.get("streamSid") or start.get("streamSid", ""))
        armed = self.port.open(call_sid, {"streamSid": self.stream_sid, "tracks": start.get("tracks")})
        if armed is None:
            self.events.count("refused")
            raise StreamRefused(f"call {call_sid} does not take its answers from a stream")
        self.call_sid = call_sid
        self._started_wall = self.wall()
        self.events.count("started")
        self._arm(armed)

    def _media(self, message: Mapping[str, Any]) -> None:
        media = message.get("media")
        if not isinstance(media, Mapping) or media.get("track", "inbound") != "inbound":
            return
        try:
            at = int(media.get("timestamp", ""))
            samples = mulaw_decode(base64.b64decode(str(media.get("payload", "")), validate=True))
        except (ValueError, binascii.Error):
            self.events.count("bad_frame")
            return
        if self.recording:
            return
        lag = (self.wall() - self._started_wall) * 1000 - at
        if lag > self.settings.max_lag_ms:
            self._record_instead(f"decoding fell {int(lag)} ms behind the audio", "fallback_lag")
            return
        if self._stale.is_set() or at - self._last_poll_ms >= self.settings.poll_ms:
            self._stale.clear()
            self._last_poll_ms = at
            self._rearm(self.port.where(self.call_sid))
        utterance = self.endpointer.feed(samples, at)  # every frame: it tracks the line's noise floor
        if self.armed is None or not self.armed.listening:
            return  # speech between questions (or over a statement) answers nothing
        if self.audio_ms < MAX_QUESTION_MS:
            self.audio.append(samples)
            self.audio_ms += len(samples) * 1000 // TELEPHONE_RATE
        if utterance is not None:
            self._decide(utterance)

    # -- arming and deciding ----------------------------------------------------------------------

    def _arm(self, armed: Listening) -> None:
        self.armed = armed
        self.endpointer.reset()
        self.audio, self.audio_ms = [], 0

    def _rearm(self, now: Listening | None) -> None:
        if now is None or not now.streamed:
            self.recording = True  # another process moved the call to <Record> (or it is gone)
            return
        if self.armed is None or now.seq != self.armed.seq or now.listening != self.armed.listening:
            self._arm(now)

    def _decide(self, utterance: Utterance) -> None:
        assert self.armed is not None
        seq = self.armed.seq
        started = time.perf_counter()
        with self.slots:
            result = self.recognizer.recognize(utterance.audio)
        decode_ms = (time.perf_counter() - started) * 1000  # waiting for a slot included
        self.events.observe("decode", decode_ms / 1000)
        self.events.count(f"intent_{result.intent}")
        detail: dict[str, Any] = {"source": "stream", **result.to_dict(), "stream_sid": self.stream_sid,
                                  "speech_start_ms": utterance.start_ms, "speech_end_ms": utterance.end_ms,
                                  "decided_ms": utterance.decided_ms, "asr_ms": round(decode_ms, 1)}
        if self.settings.model:
            detail["model"] = self.settings.model
        if result.intent not in MOVES_ON:
            self.unknown[seq] = detail  # not trusted: no interruption; the <Gather> timeout reports it
            return
        heard = Heard(CallerInput(INTENT_INPUT[result.intent], text=result.text), detail)
        question = Audio(np.concatenate(self.audio) if self.audio else np.zeros(0, np.int16), TELEPHONE_RATE)
        began = time.perf_counter()
        twiml = self.port.answer(self.call_sid, seq, heard, question)
        committed = time.perf_counter()
        if twiml is None:
            self.events.count("lost_race")
            self._rearm(self.port.where(self.call_sid))
            return
        self._arm(Listening(seq + 1, False, True))  # not listening until the new turn is read below
        redirected = self.updater.redirect(self.call_sid, twiml)
        done = time.perf_counter()
        decision = Decision(seq, result.intent, utterance.end_ms, utterance.decided_ms, decode_ms,
                            (committed - began) * 1000, (done - committed) * 1000)
        self.decisions.append(decision)
        self.events.count("answered" if redirected else "redirect_failed")
        self.events.observe("turn_gap", decision.gap_ms / 1000)
        self._rearm(self.port.where(self.call_sid))

    def record_instead(self, reason: str, event: str) -> None:
        """The stream failed: the call records its answers from now on (redirected now when it is listening)."""
        self._record_instead(reason, event)

    def _record_instead(self, reason: str, event: str) -> None:
        self.recording = True
        self.events.count(event)
        log.warning("call %s: %s; its answers are recorded instead", self.call_sid, reason)
        twiml = self.port.record_instead(self.call_sid, reason)
        if twiml is not None:
            self.updater.redirect(self.call_sid, twiml)
