"""Twilio Media Streams messages as Twilio sends them (docs/streaming.md §2.2): strings for sequenceNumber,
chunk and timestamp, 20 ms frames of 160 μ-law bytes in base64. For tests that drive a StreamSession."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speech.audio import TELEPHONE_RATE, Audio, concatenate, silence
from speech.stream import frames_of

ACCOUNT = "AC" + "0" * 32
FRAME_MS = 20


def tone(seconds: float, dbfs: float = -20.0, hz: float = 300.0) -> Audio:
    """A steady voiced sound: speech to the endpointer (the recogniser is scripted in these tests)."""
    t = np.arange(int(seconds * TELEPHONE_RATE)) / TELEPHONE_RATE
    amplitude = 32767 * 10 ** (dbfs / 20) * np.sqrt(2)
    return Audio((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16), TELEPHONE_RATE)


def quiet(seconds: float) -> Audio:
    return silence(seconds)


@dataclass
class TwilioStream:
    """One stream's messages, numbered as Twilio numbers them; `at_ms` is the stream clock."""

    call_sid: str
    token: str
    stream_sid: str = "MZ" + "1" * 32
    sequence: int = 0
    chunk: int = 0
    at_ms: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def connected(self) -> dict[str, Any]:
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def start(self, token: str | None = None, call_sid: str | None = None) -> dict[str, Any]:
        return {"event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                "start": {"accountSid": ACCOUNT, "streamSid": self.stream_sid, "callSid": call_sid or self.call_sid,
                          "tracks": ["inbound"], "customParameters": {"token": self.token if token is None else token},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}

    def media(self, audio: Audio) -> list[dict[str, Any]]:
        """The audio as 20 ms media messages from the current stream time on."""
        out = []
        for frame in frames_of(audio):
            self.chunk += 1
            out.append({"event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                        "media": {"track": "inbound", "chunk": str(self.chunk), "timestamp": str(self.at_ms),
                                  "payload": base64.b64encode(frame).decode()}})
            self.at_ms += FRAME_MS
        return out

    def stop(self) -> dict[str, Any]:
        return {"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                "stop": {"accountSid": ACCOUNT, "callSid": self.call_sid}}


def answer_audio(lead_s: float = 0.5, speech_s: float = 0.6, tail_s: float = 0.6) -> Audio:
    """Quiet, an answer, quiet long enough for the endpointer to decide."""
    return concatenate(quiet(lead_s), tone(speech_s), quiet(tail_s))
