"""Streamed calls for bench/turn_gap.py: Korean espeak-ng answers in a realistic call, sent to ivr.stream_session
as Twilio's Media Streams messages, with an answering fake of the call rules and of Twilio's REST API.

A call is QUESTIONS turns of: the prompt (PROMPT_S of line silence or low line noise: the caller listens), the
answer (네, 아니요, 아니야 spoken by espeak-ng at one of three speeds and two pitches), TRAIL_S of silence. The
messages are the JSON text Twilio sends (string sequenceNumber, chunk and timestamp; 160-byte μ-law payloads
in base64); the server side parses each one (json.loads) and hands it to StreamSession.feed, as
ivr.web_stream does.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calls.inputs import Heard
from calls.streamed import Listening
from ivr.capture import Recognizer
from ivr.stream_capture import StreamTokens
from ivr.stream_session import DecodeSlots, StreamSession, StreamSettings
from speech.asr import Recognition
from speech.audio import TELEPHONE_RATE, Audio, concatenate, frame_levels_dbfs, silence
from speech.lexicon import Intent
from speech.samples import speak
from speech.stream import FRAME_MS, frames_of
from speech.tts import EspeakTts, restart_worker

QUESTIONS = 10
PROMPT_S = 4.0  # the question's prompt plays; the caller is silent (or the line hisses)
TRAIL_S = 0.5  # silence after the answer (the next prompt starts once the call is redirected)
ANSWERS: tuple[tuple[str, Intent], ...] = (("네", Intent.YES), ("아니요", Intent.NO), ("네", Intent.YES),
                                           ("아니야", Intent.NO))
SPEEDS = (150, 170, 190)  # espeak-ng words per minute
PITCHES = (35, 65)
LINE_FLOORS: tuple[float | None, ...] = (None, -60.0, -50.0)  # digital silence or line noise, per call (dBFS)
SPEECH_DBFS = -40.0  # a 20 ms frame louder than this is speech (the endpointer's and recogniser's threshold)
TOKENS = StreamTokens(b"turn-gap-bench")
ACCOUNT = "AC" + "0" * 32
TWIML = "<Response><Redirect>https://bench.invalid/next</Redirect></Response>"


@dataclass(frozen=True)
class Call:
    """One call's inbound audio as Twilio's media payloads, and where its questions and answers lie."""

    payloads: list[str]  # base64 of each 160-byte μ-law frame, in order
    questions: list[int]  # frame index where each question's prompt starts
    answers: list[Intent]  # what each question's answer means
    speech_end_ms: list[int]  # stream time each answer's speech really ends (last frame above SPEECH_DBFS)
    floor_dbfs: float | None

    @property
    def seconds(self) -> float:
        return len(self.payloads) * FRAME_MS / 1000


def _spoken_words(tts: EspeakTts, text: str, speed: int, pitch: int) -> Audio:
    """The answer alone, first render of a fresh worker (reproducible, as tests/speech/clips.py does)."""
    restart_worker()
    return speak(tts, text, "ko-KR", speed, pitch, None, 0, lead_seconds=0.0, tail_seconds=0.0)


def make_calls(count: int, questions: int = QUESTIONS) -> list[Call]:
    tts = EspeakTts()
    cache: dict[tuple[str, int, int], Audio] = {}
    calls = []
    for index in range(count):
        parts: list[Audio] = []
        starts, intents, ends = [], [], []
        at = 0
        for question in range(questions):
            text, intent = ANSWERS[(index * 3 + question) % len(ANSWERS)]
            key = (text, SPEEDS[(index + question) % len(SPEEDS)], PITCHES[(index + question // 3) % len(PITCHES)])
            if key not in cache:
                cache[key] = _whole_frames(_spoken_words(tts, *key))
            words = cache[key]
            loud = np.flatnonzero(frame_levels_dbfs(words) > SPEECH_DBFS)
            spoken_ms = (int(loud[-1]) + 1) * FRAME_MS if len(loud) else 0
            starts.append(at // FRAME_MS)
            parts += [silence(PROMPT_S), words, silence(TRAIL_S)]
            ends.append(at + int(PROMPT_S * 1000) + spoken_ms)
            intents.append(intent)
            at += int(PROMPT_S * 1000) + len(words.samples) * 1000 // TELEPHONE_RATE + int(TRAIL_S * 1000)
        samples = concatenate(*parts).samples.astype(np.float64)
        floor = LINE_FLOORS[index % len(LINE_FLOORS)]
        if floor is not None:
            samples += np.random.default_rng(index).normal(0.0, 32768.0 * 10 ** (floor / 20), len(samples))
        audio = Audio(np.clip(np.round(samples), -32768, 32767).astype(np.int16), TELEPHONE_RATE)
        payloads = [base64.b64encode(frame).decode("ascii") for frame in frames_of(audio)]
        calls.append(Call(payloads, starts, intents, ends, floor))
    return calls


def _whole_frames(audio: Audio) -> Audio:
    """`audio` padded with silence to whole 20 ms frames (so every question starts on a frame)."""
    size = TELEPHONE_RATE * FRAME_MS // 1000
    return concatenate(audio, silence((-len(audio.samples) % size) / TELEPHONE_RATE))


# -- Twilio's messages (docs/twilio-facts.md §2.12) -----------------------------------------------------


def connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start(call_sid: str, stream_sid: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
        "accountSid": ACCOUNT, "streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
        "customParameters": {"token": TOKENS.mint(call_sid)},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def media(stream_sid: str, index: int, payload: str) -> str:
    """Frame `index` (0-based): sequence numbers count from the start message's 1, chunks from 1."""
    return (f'{{"event":"media","sequenceNumber":"{index + 2}","media":{{"track":"inbound","chunk":"{index + 1}",'
            f'"timestamp":"{index * FRAME_MS}","payload":"{payload}"}},"streamSid":"{stream_sid}"}}')


def stop(call_sid: str, stream_sid: str, frames: int) -> str:
    return json.dumps({"event": "stop", "sequenceNumber": str(frames + 2), "streamSid": stream_sid,
                       "stop": {"accountSid": ACCOUNT, "callSid": call_sid}})


# -- the fakes --------------------------------------------------------------------------------------


@dataclass
class AnsweringPort:
    """StreamPort: every question listens; an answer to the current turn is taken and moves the call on."""

    seq: int = 1
    fallbacks: list[str] = field(default_factory=list)
    taken: list[Intent] = field(default_factory=list)

    def open(self, call_sid: str, detail: dict[str, Any]) -> Listening | None:
        return Listening(self.seq, True, True)

    def where(self, call_sid: str) -> Listening | None:
        return Listening(self.seq, True, not self.fallbacks)

    def answer(self, call_sid: str, seq: int, heard: Heard, audio: Audio) -> str | None:
        if seq != self.seq:
            return None
        self.seq += 1
        self.taken.append(Intent(heard.detail["intent"]))
        return TWIML

    def record_instead(self, call_sid: str, reason: str) -> str | None:
        self.fallbacks.append(reason)
        return None

    def question(self, number: int) -> bool:
        """Question `number` (1-based) starts: an unanswered turn before it timed out. True when it moved."""
        if self.seq < number:
            self.seq = number
            return True
        return False


class NullUpdater:
    def redirect(self, call_sid: str, twiml: str) -> bool:
        return True


class TimedRecognizer:
    """The shared recogniser, with the CPU time this session's decodes took (`clock`: process or thread)."""

    def __init__(self, inner: Recognizer, clock: Any = time.thread_time) -> None:
        self.inner, self.clock = inner, clock
        self.cpu_s = 0.0
        self.decodes = 0

    def recognize(self, audio: Audio) -> Recognition:
        self.decodes += 1
        began = self.clock()
        try:
            return self.inner.recognize(audio)
        finally:
            self.cpu_s += self.clock() - began


@dataclass
class Stream:
    """One call's stream as the server sees it: a session on the fakes."""

    call: Call
    number: int
    recognizer: TimedRecognizer
    port: AnsweringPort = field(default_factory=AnsweringPort)
    slots: DecodeSlots | None = None  # the server's gate around recognition (None: no limit)

    def __post_init__(self) -> None:
        self.call_sid = f"CA{self.number:032x}"
        self.stream_sid = f"MZ{self.number:032x}"
        self.session = StreamSession(self.port, NullUpdater(), self.recognizer, TOKENS, StreamSettings(),
                                     slots=self.slots)
        self.question_at = {frame: number + 1 for number, frame in enumerate(self.call.questions)}

    def handle(self, text: str) -> None:
        """What ivr.web_stream does with one WebSocket message."""
        self.session.feed(json.loads(text))

    def open(self) -> None:
        self.handle(connected())
        self.handle(start(self.call_sid, self.stream_sid))

    def frame(self, index: int) -> None:
        """Frame `index`; the prompt of a question starting here moves an unanswered turn on (its timeout)."""
        if index in self.question_at and self.port.question(self.question_at[index]):
            self.session.turn_changed()
        self.handle(media(self.stream_sid, index, self.call.payloads[index]))

    def close(self, frames: int) -> None:
        self.handle(stop(self.call_sid, self.stream_sid, frames))

    def correct(self) -> int:
        """Decisions whose intent is the answer spoken in that question."""
        return sum(1 for d in self.session.decisions
                   if d.seq <= len(self.call.answers) and d.intent is self.call.answers[d.seq - 1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
