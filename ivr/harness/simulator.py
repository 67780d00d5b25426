"""Plays Twilio toward the app for one call, with a persona as the callee.

What Twilio does, as docs/twilio-facts.md describes it: status callbacks (initiated, ringing, answered,
completed or busy / no-answer / failed) with SequenceNumber, the answered-call webhook with the standard
parameters (and AnsweredBy, AMD being on), TwiML interpreted verb by verb — a <Gather> or <Record> without
input falls through to the next verb, an action replaces the document, the end of a document hangs up —
and every request signed with X-Twilio-Signature. Time runs on the shared virtual clock: prompts take as
long as their audio, waits take their timeout.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from typing import Any, Protocol

from ivr.harness.media import InjectedRecognizer, MediaHost
from ivr.harness.persona import Persona
from ivr.harness.sids import CALL, mint
from ivr.harness.twiml import TwimlError, Verb, parse
from kit.clock import FrozenClock
from speech.lexicon import Intent

MAX_REQUESTS = 400  # a call that needs more webhooks than this is looping: fail it loudly
KEY_OF = {"yes": "1", "no": "2", "human": "0", "unintelligible": "9"}
INTENT_OF = {"yes": Intent.YES, "no": Intent.NO, "human": Intent.HUMAN, "unintelligible": Intent.UNKNOWN}


def _silence_wav(seconds: int) -> bytes:
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


class _ApplicationError(Exception):
    """Twilio gave up on a webhook (11205, no answer within 15 s): the caller hears the application error."""


WEBHOOK_TIMEOUT = timedelta(seconds=15)
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


@dataclass
class CallLog:
    call_sid: str
    requests: list[tuple[str, int]] = field(default_factory=list)  # (url, status)
    played: list[str] = field(default_factory=list)
    ended: str = ""  # completed | busy | no-answer | failed


@dataclass
class Simulator:
    transport: Transport
    media: MediaHost
    oracle: Oracle
    clock: FrozenClock
    account_sid: str
    base_url: str
    recognizer: InjectedRecognizer = field(default_factory=InjectedRecognizer)
    agent_answers: bool = True
    duplicate_deliveries: bool = False  # fault: Twilio delivers every webhook twice
    recording_not_ready: int = 0  # fault: an answer recording 404s this many times before it is there
    late_ringing: bool = False  # fault: the ringing callback arrives again after the call ended (out of order)
    recordings_absent: int = 0  # fault: Twilio has no audio for the whole-call recording of the next N calls
    slow_webhook: int | None = None  # fault: the Nth webhook of a call takes longer than Twilio's 15 s
    media_seconds: dict[str, float] = field(default_factory=dict)  # <Play> media fetched, and how long it plays
    speaker: Callable[[str], bytes] | None = None  # audio mode: the callee's spoken answer, as a WAV
    birthday: Callable[[int], str] = lambda task_id: "0101"  # noqa: E731 - the applicant's MMDD, by task

    def run(self, task_id: int, call_sid: str, to: str, persona: Persona, attempt: int = 1) -> CallLog:
        caller = _Caller(self, task_id, call_sid, to, persona, attempt)
        caller.run()
        return caller.log


class _Caller:
    def __init__(self, sim: Simulator, task_id: int, call_sid: str, to: str, persona: Persona, attempt: int) -> None:
        self.sim, self.task_id, self.persona = sim, task_id, persona
        self.log = CallLog(call_sid)
        self.to = to
        self.pickup = persona.pickup_on(attempt)
        self.sequence = 0
        self.answered_at = sim.clock.now()
        self.asked: dict[str, int] = {}
        self.hang_up_next = False
        self.done = False

    # -- Twilio's requests --------------------------------------------------------------------

    def params(self, **extra: str) -> dict[str, str]:
        return {"CallSid": self.log.call_sid, "AccountSid": self.sim.account_sid, "From": "+861085550000",
                "To": self.to, "Caller": "+861085550000", "Called": self.to, "CallStatus": "in-progress",
                "ApiVersion": "2010-04-01", "Direction": "outbound-api", **extra}

    def post(self, url: str, form: dict[str, str]) -> str:
        if len(self.log.requests) >= MAX_REQUESTS:
            raise SimulationError(f"call {self.log.call_sid}: more than {MAX_REQUESTS} webhooks: a loop")
        status, body = self.sim.transport.post(url, form)
        self.log.requests.append((url, status))
        if self.sim.slow_webhook == len(self.log.requests) and "/twilio/voice/status" not in url:
            self.sim.clock.advance(WEBHOOK_TIMEOUT)  # the answer came too late: Twilio stopped waiting
            raise _ApplicationError(url)
        if status != 200:
            raise SimulationError(f"11200: {url} answered HTTP {status}: {body.strip()[:200]}")
        if self.sim.duplicate_deliveries:  # a retried delivery must get the same answer and change nothing
            again_status, again = self.sim.transport.post(url, form)
            self.log.requests.append((url, again_status))
            if again_status != 200 or (again != body and "/twilio/voice/status" not in url):
                raise SimulationError(f"{url}: a repeated delivery was answered differently "
                                      f"(HTTP {again_status}): {again.strip()[:200]}")
        return body

    def status(self, status: str, **extra: str) -> None:
        form = self.params(CallStatus=status, SequenceNumber=str(self.sequence), CallbackSource="call-progress-events",
                           Timestamp=format_datetime(self.sim.clock.now(), usegmt=True), **extra)
        self.sequence += 1
        self.post(f"{self.sim.base_url}/twilio/voice/status?task={self.task_id}", form)

    # -- the call -----------------------------------------------------------------------------

    def run(self) -> None:
        self.status("initiated")
        self.sim.clock.advance(timedelta(seconds=2))
        self.status("ringing")
        if self.pickup in ("busy", "failed"):
            self.sim.clock.advance(timedelta(seconds=3))
            self.finish(self.pickup)
            return
        if self.pickup == "no-answer":
            self.sim.clock.advance(timedelta(seconds=30))
            self.finish("no-answer")
            return
        self.sim.clock.advance(timedelta(seconds=5))
        self.answered_at = self.sim.clock.now()
        answered_by = "machine_start" if self.pickup == "machine" else "human"
        body = self.post(f"{self.sim.base_url}/twilio/voice/answer?task={self.task_id}",
                         self.params(AnsweredBy=answered_by))
        self.status("in-progress", AnsweredBy=answered_by)
        try:
            self.execute(body)
        except _ApplicationError:
            self.log.played.append(f"say:{APPLICATION_ERROR}")
            self.sim.clock.advance(timedelta(seconds=4))
        self.finish("completed")
        self.whole_call_recording()
        if self.sim.late_ringing:
            self.sequence = 1
            self.status("ringing")

    def finish(self, status: str) -> None:
        if self.log.ended:
            return
        duration = int((self.sim.clock.now() - self.answered_at).total_seconds()) if status == "completed" else 0
        self.log.ended = status
        self.status(status, CallDuration=str(duration))

    def whole_call_recording(self) -> None:
        """The call was recorded (Record=true, dual channel): Twilio announces the recording once it is ready."""
        seconds = max(1, int((self.sim.clock.now() - self.answered_at).total_seconds()))
        sid, url = self.sim.media.add(_silence_wav(min(seconds, 5)))
        self.sim.clock.advance(timedelta(seconds=2))
        absent = self.sim.recordings_absent > 0
        self.sim.recordings_absent -= absent
        self.post(f"{self.sim.base_url}/twilio/recording", {
            "AccountSid": self.sim.account_sid, "CallSid": self.log.call_sid, "RecordingSid": sid,
            "RecordingUrl": "" if absent else url, "RecordingStatus": "absent" if absent else "completed",
            "RecordingDuration": "0" if absent else str(seconds),
            "RecordingChannels": "2", "RecordingSource": "OutboundAPI",
            "RecordingStartTime": format_datetime(self.answered_at, usegmt=True)})

    def execute(self, body: str) -> None:
        """Run TwiML documents until one hangs up or ends."""
        while body and not self.done:
            try:
                verbs = parse(body)
            except TwimlError as exc:
                raise SimulationError(str(exc)) from None
            body = self.run_document(verbs)

    def run_document(self, verbs: list[Verb]) -> str:
        """Each verb in turn; returns the next document when an action or redirect replaces this one."""
        for verb in verbs:
            if verb.name == "Play":
                self.play(verb.text)
            elif verb.name == "Say":
                self.log.played.append(f"say:{verb.text}")
            elif verb.name == "Pause":
                self.sim.clock.advance(timedelta(seconds=int(verb.attr("length", "1"))))
            elif verb.name == "Hangup":
                self.done = True
                return ""
            elif verb.name == "Redirect":
                return self.post(verb.text, self.params())
            elif verb.name == "Gather":
                body = self.gather(verb)
                if body is not None:
                    return body
            elif verb.name == "Record":
                body = self.record(verb)
                if body is not None:
                    return body
            elif verb.name == "Dial":
                return self.dial(verb)
        self.done = True  # the end of a document: Twilio hangs up
        return ""

    def play(self, url: str) -> None:
        seconds = self.sim.media_seconds.get(url)
        if seconds is None:  # Twilio caches <Play> media it has fetched once (the app allows a day)
            status, audio = self.sim.transport.get(url)
            if status != 200:
                raise SimulationError(f"{url}: Twilio could not fetch the audio to <Play> (HTTP {status})")
            with wave.open(io.BytesIO(audio), "rb") as wav:
                seconds = self.sim.media_seconds[url] = wav.getnframes() / wav.getframerate()
        self.log.played.append(url)
        self.sim.clock.advance(timedelta(seconds=seconds))

    # -- the callee's answers -----------------------------------------------------------------

    def choose(self) -> str:
        """What the callee answers now: yes | no | human | silence | unintelligible | hangup."""
        if self.hang_up_next:
            return "hangup"
        topic = self.sim.oracle.current_topic(self.log.call_sid)
        times = self.asked.get(topic or "", 0)
        self.asked[topic or ""] = times + 1
        if topic == "identity" and self.persona.identity == "absent":
            return "no"  # someone else answered: 本人不在
        answer = self.persona.answer_for(topic)
        if answer == "no-then-yes":
            answer = "no" if times == 0 else "yes"
        if self.persona.hangup_after and topic == self.persona.hangup_after:
            self.hang_up_next = True
        return answer

    def gather(self, verb: Verb) -> str | None:
        for child in verb.children:
            if child.name == "Play":
                self.play(child.text)
        digits = int(verb.attr("numDigits", "0") or 0)
        if digits >= 4:  # identity by keypad
            self.sim.oracle.current_topic(self.log.call_sid)
            keys = self.sim.birthday(self.task_id) if self.persona.identity != "wrong" else "0229"
        else:
            answer = self.choose()
            if answer == "hangup":
                self.done = True
                return ""
            keys = KEY_OF.get(answer, "")
        if not keys:  # no input: Twilio goes on to the next verb
            self.sim.clock.advance(timedelta(seconds=int(verb.attr("timeout", "5"))))
            return None
        return self.post(verb.attr("action"), self.params(Digits=keys, FinishedOnKey=""))

    def record(self, verb: Verb) -> str | None:
        answer = self.choose()
        action = verb.attr("action")
        if answer == "hangup":
            self.done = True
            self.post(action, self.params(Digits="hangup"))
            return ""
        if answer == "silence":  # nothing recorded: Twilio goes on to the next verb
            self.sim.clock.advance(timedelta(seconds=int(verb.attr("timeout", "5"))))
            return None
        if self.persona.mode == "dtmf":
            return self.post(action, self.params(Digits=KEY_OF[answer]))
        if self.persona.mode == "audio":
            if self.sim.speaker is None:
                raise SimulationError("audio mode needs a speaker (espeak-ng voice and lexicon of the flow's language)")
            recording = self.sim.speaker(answer)
        else:
            recording = self.sim.recognizer.clip(INTENT_OF[answer])
        sid, url = self.sim.media.add(recording, self.sim.recording_not_ready)
        self.sim.clock.advance(timedelta(seconds=1 + int(verb.attr("timeout", "5"))))
        return self.post(action, self.params(RecordingUrl=url, RecordingSid=sid, RecordingDuration="1", Digits=""))

    def dial(self, verb: Verb) -> str:
        agent_leg = mint(CALL)  # <Dial> places a second call, with a SID of its own
        if self.sim.agent_answers:
            self.sim.clock.advance(timedelta(seconds=120))
            form: dict[str, Any] = {"DialCallStatus": "completed", "DialCallSid": agent_leg, "DialCallDuration": "110"}
        else:
            self.sim.clock.advance(timedelta(seconds=int(verb.attr("timeout", "30"))))
            form = {"DialCallStatus": "no-answer", "DialCallSid": agent_leg, "DialCallDuration": "0"}
        return self.post(verb.attr("action"), self.params(**form))
