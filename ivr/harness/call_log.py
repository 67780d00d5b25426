"""What a simulated call leaves and what it runs on: the call's log (requests, prompts, failures as Twilio's
debugger logs them, the stream's timings), the URLs it was placed with, the transport and the callee's oracle
the simulator talks through, and the errors it raises (ivr.harness.simulator plays the call)."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ivr.harness.streamed import StreamLeg
from ivr.harness.twiml import Verb
from speech.lexicon import Intent

MAX_REQUESTS = 400  # a call that needs more webhooks than this is looping: fail it loudly
KEY_OF = {"yes": "1", "no": "2", "human": "0", "unintelligible": "9"}
INTENT_OF = {"yes": Intent.YES, "no": Intent.NO, "human": Intent.HUMAN, "unintelligible": Intent.UNKNOWN}


def silence_wav(seconds: int) -> bytes:
    """`seconds` of two-channel 8 kHz silence as a WAV: the whole-call recording Twilio announces."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00\x00\x00" * 8000 * seconds)
    return buffer.getvalue()


class Transport(Protocol):
    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]: ...

    def get(self, url: str) -> tuple[int, bytes]: ...


class Oracle(Protocol):
    """What the simulated callee understands of the question it hears (a person knows what is asked)."""

    def current_topic(self, call_sid: str) -> str | None: ...


class SimulationError(RuntimeError):
    """Twilio would have failed the call (bad TwiML, an error response): the message says how."""


class ApplicationError(Exception):
    """Twilio gave up on a voice webhook (and its fallback): the caller hears the application error."""


class Redirected(Exception):  # noqa: N818 - a control transfer, not an error
    """A call update (REST) replaced the running document: the call goes on with `verbs`."""

    def __init__(self, verbs: list[Verb]) -> None:
        super().__init__("call updated")
        self.verbs = verbs


WEBHOOK_TIMEOUT = timedelta(seconds=15)
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
NO_RESPONSE = 0  # a transport's status when no HTTP answer came at all (connection refused or reset)


@dataclass(frozen=True)
class Notification:
    """A webhook failure as Twilio's debugger logs it: 11200 (HTTP retrieval failure: non-2xx, invalid TwiML)
    or 11205 (HTTP connection failure: no answer, or none within 15 s)."""

    code: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.code}: {self.url}: {self.reason}"


@dataclass
class CallLog:
    call_sid: str
    requests: list[tuple[str, int]] = field(default_factory=list)  # (url, status)
    played: list[str] = field(default_factory=list)
    ended: str = ""  # completed | busy | no-answer | failed
    errors: list[Notification] = field(default_factory=list)  # webhook failures, in order
    streamed: bool = False  # the call's first document started a Media Stream
    stream: StreamLeg | None = None  # that stream (its app session keeps the decisions)
    prompt_end_ms: dict[int, int] = field(default_factory=dict)  # streamed question seq → its prompt's end
    moved_ms: dict[int, int] = field(default_factory=dict)  # seq → stream time a call update moved the call on
    recorded: list[dict[str, float]] = field(default_factory=list)  # <Record> answers: speech end, action wall ms


@dataclass(frozen=True)
class CallUrls:
    """The URLs a call was placed with (POST /Calls: Url, StatusCallback, RecordingStatusCallback); a fake
    Twilio that took the dialer's request plays the call against these."""

    answer: str
    status: str
    recording_status: str
