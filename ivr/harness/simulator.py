"""Plays Twilio toward the app for one call, with a persona as the callee.

What Twilio does, as docs/twilio-facts.md describes it: status callbacks (initiated, ringing, answered,
completed or busy / no-answer / failed) with SequenceNumber, the answered-call webhook with the standard
parameters (and AnsweredBy, AMD being on), TwiML interpreted verb by verb — a <Gather> or <Record> without
input falls through to the next verb, an action replaces the document, the end of a document hangs up —
and every request signed with X-Twilio-Signature. Time runs on the shared virtual clock: prompts take as
long as their audio, waits take their timeout.

A voice webhook that fails (no HTTP answer or none within 15 s: 11205; non-2xx or invalid TwiML: 11200) is
requested again at the call's FallbackUrl with the same parameters plus ErrorCode and ErrorUrl; when there
is no fallback or it fails too, the caller hears Twilio's application error and the call ends (completed).
Status and recording callbacks return no TwiML and have no fallback: a failure is only logged
(twilio-facts §2.10). Every failure is kept in the call's log, as Twilio's debugger keeps it.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from typing import Any, Protocol

from ivr.harness.media import InjectedRecognizer, MediaHost
from ivr.harness.persona import Persona
from ivr.harness.sids import CALL, mint
from ivr.harness.stream_turns import seq_of, streamed_gather
from ivr.harness.streamed import Interrupt, StreamHost, StreamLeg, StreamOptions, VirtualTimers
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
    fallback_url: str | None = None  # the call's FallbackUrl (when `run` is given none); None: no fallback
    strict: bool = True  # a failure the simulator did not inject fails the simulation loudly (an app bug);
    # False: Twilio's behaviour for every failure (fallback, application error), for faults made outside
    media_seconds: dict[str, float] = field(default_factory=dict)  # <Play> media fetched, and how long it plays
    speaker: Callable[[str], bytes] | None = None  # audio mode: the callee's spoken answer, as a WAV
    birthday: Callable[[int], str] = lambda task_id: "0101"  # noqa: E731 - the applicant's MMDD, by task
    stream_host: StreamHost | None = None  # Media Streams: the app served on a real socket (ivr.harness.streamed)
    stream_options: StreamOptions = field(default_factory=StreamOptions)
    timers: VirtualTimers | None = None  # the app's scheduled actions, on the virtual clock
    auth_token: str = ""  # signs the stream's WebSocket handshake

    def run(self, task_id: int, call_sid: str, to: str, persona: Persona, attempt: int = 1,
            fallback_url: str | None = None, urls: CallUrls | None = None) -> CallLog:
        """One call; `fallback_url`: the FallbackUrl it was placed with (default: the simulator's); `urls`: the
        other URLs it was placed with (default: the app's, under `base_url`, as the dialer asks for them)."""
        base = self.base_url
        urls = urls or CallUrls(answer=f"{base}/twilio/voice/answer?task={task_id}",
                                status=f"{base}/twilio/voice/status?task={task_id}",
                                recording_status=f"{base}/twilio/recording")
        caller = _Caller(self, task_id, call_sid, to, persona, attempt, fallback_url or self.fallback_url, urls)
        caller.run()
        return caller.log


class _Caller:
    def __init__(self, sim: Simulator, task_id: int, call_sid: str, to: str, persona: Persona, attempt: int,
                 fallback_url: str | None, urls: CallUrls) -> None:
        self.sim, self.task_id, self.persona = sim, task_id, persona
        self.fallback_url = fallback_url
        self.urls = urls
        self.log = CallLog(call_sid)
        self.to = to
        self.pickup = persona.pickup_on(attempt)
        self.sequence = 0
        self.answered_at = sim.clock.now()
        self.asked: dict[str, int] = {}
        self.hang_up_next = False
        self.done = False
        self.leg: StreamLeg | None = None

    # -- Twilio's requests --------------------------------------------------------------------

    def params(self, **extra: str) -> dict[str, str]:
        return {"CallSid": self.log.call_sid, "AccountSid": self.sim.account_sid, "From": "+861085550000",
                "To": self.to, "Caller": "+861085550000", "Called": self.to, "CallStatus": "in-progress",
                "ApiVersion": "2010-04-01", "Direction": "outbound-api", **extra}

    def send(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        if len(self.log.requests) >= MAX_REQUESTS:
            raise SimulationError(f"call {self.log.call_sid}: more than {MAX_REQUESTS} webhooks: a loop")
        status, body = self.sim.transport.post(url, form)
        self.log.requests.append((url, status))
        return status, body

    def failed(self, notification: Notification, injected: bool = False) -> None:
        if self.sim.strict and not injected:
            raise SimulationError(str(notification))
        self.log.errors.append(notification)

    def repeat(self, url: str, form: dict[str, str], body: str, compare: bool) -> None:
        """Fault: Twilio delivers the request again; it must get the same answer and change nothing."""
        again_status, again = self.send(url, form)
        if again_status != 200 or (compare and again != body):
            raise SimulationError(f"{url}: a repeated delivery was answered differently "
                                  f"(HTTP {again_status}): {again.strip()[:200]}")

    def callback(self, url: str, form: dict[str, str]) -> None:
        """A status or recording callback (or an action after the caller hung up): no TwiML is run, so there
        is no fallback; a failure is only logged."""
        status, body = self.send(url, form)
        if status != 200:
            self.failed(Notification("11205" if status == NO_RESPONSE else "11200", url,
                                     f"HTTP {status}: {body.strip()[:200]}"))
        elif self.sim.duplicate_deliveries:
            self.repeat(url, form, body, compare=False)

    def webhook(self, url: str, form: dict[str, str]) -> list[Verb]:
        """A voice webhook (the call's Url, an action, a <Redirect>): the document to run next. If it fails,
        Twilio requests the call's FallbackUrl with the same parameters plus ErrorCode and ErrorUrl; if that
        fails too (or there is none), the caller hears the application error (_ApplicationError)."""
        verbs, failure = self.fetch(url, form)
        if failure is None:
            return verbs
        if self.fallback_url is None:
            raise _ApplicationError(url)
        verbs, fallback_failure = self.fetch(self.fallback_url, {**form, "ErrorCode": failure.code, "ErrorUrl": url})
        if fallback_failure is not None:
            raise _ApplicationError(url)
        return verbs

    def fetch(self, url: str, form: dict[str, str]) -> tuple[list[Verb], Notification | None]:
        status, body = self.send(url, form)
        if self.sim.slow_webhook == len(self.log.requests):  # the answer came too late: Twilio stopped waiting
            self.sim.clock.advance(WEBHOOK_TIMEOUT)
            failure = Notification("11205", url, f"no answer within {WEBHOOK_TIMEOUT.seconds} s")
            self.failed(failure, injected=True)
            return [], failure
        if status == NO_RESPONSE:
            failure = Notification("11205", url, f"no HTTP answer ({body.strip()[:200]})")
        elif not 200 <= status < 300:
            failure = Notification("11200", url, f"HTTP {status}: {body.strip()[:200]}")
        else:
            try:
                verbs = parse(body)
            except TwimlError as exc:
                failure = Notification("11200", url, f"invalid TwiML ({exc})")
            else:
                if self.sim.duplicate_deliveries:
                    self.repeat(url, form, body, compare=True)
                return verbs, None
        self.failed(failure)
        return [], failure

    def status(self, status: str, **extra: str) -> None:
        form = self.params(CallStatus=status, SequenceNumber=str(self.sequence), CallbackSource="call-progress-events",
                           Timestamp=format_datetime(self.sim.clock.now(), usegmt=True), **extra)
        self.sequence += 1
        self.callback(self.urls.status, form)

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
        if self.sim.stream_host is not None:
            self.sim.stream_host.updates.live(self.log.call_sid)
        answered_by = "machine_start" if self.pickup == "machine" else "human"
        try:
            verbs: list[Verb] | None = self.webhook(self.urls.answer,
                                                    self.params(AnsweredBy=answered_by))
        except _ApplicationError:
            verbs = None
        self.status("in-progress", AnsweredBy=answered_by)
        try:
            if verbs is None:
                raise _ApplicationError("answer")
            self.execute(verbs)
        except _ApplicationError:  # Twilio's own message, then it hangs up
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
        if self.leg is not None:
            self.leg.close()
        if self.sim.stream_host is not None:
            self.sim.stream_host.updates.ended(self.log.call_sid)
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
        self.callback(self.urls.recording_status, {
            "AccountSid": self.sim.account_sid, "CallSid": self.log.call_sid, "RecordingSid": sid,
            "RecordingUrl": "" if absent else url, "RecordingStatus": "absent" if absent else "completed",
            "RecordingDuration": "0" if absent else str(seconds),
            "RecordingChannels": "2", "RecordingSource": "OutboundAPI",
            "RecordingStartTime": format_datetime(self.answered_at, usegmt=True)})

    def execute(self, verbs: list[Verb]) -> None:
        """Run TwiML documents until one hangs up or ends."""
        document: list[Verb] | None = verbs
        while document is not None and not self.done:
            try:
                document = self.run_document(document)
            except Redirected as moved:  # a call update replaced the document mid-verb
                document = moved.verbs

    def elapse(self, seconds: float) -> None:
        """Call time passes; with a stream open it is streamed, and a call update may replace the document."""
        if self.leg is None:
            self.sim.clock.advance(timedelta(seconds=seconds))
            return
        interrupt = self.leg.advance(self.leg.ms() + round(seconds * 1000))
        if interrupt is not None:
            raise Redirected(self.follow(interrupt))

    def follow(self, interrupt: Interrupt) -> list[Verb]:
        """The document a call update moves the call to (inline TwiML, or the URL fetched as Twilio does)."""
        update = interrupt.update
        assert update is not None
        if update.status in ("completed", "canceled"):
            self.done = True
            return []
        if update.twiml:
            try:
                return parse(update.twiml)
            except TwimlError as exc:
                self.failed(Notification("11200", f"Calls/{self.log.call_sid}.json", f"invalid TwiML ({exc})"))
                raise _ApplicationError("update") from None
        return self.webhook(update.url, self.params())

    def run_document(self, verbs: list[Verb]) -> list[Verb] | None:
        """Each verb in turn; returns the next document when an action or redirect replaces this one."""
        for verb in verbs:
            if verb.name == "Start":
                self.start_stream(verb)
            elif verb.name == "Play":
                self.play(verb.text)
            elif verb.name == "Say":
                self.log.played.append(f"say:{verb.text}")
            elif verb.name == "Pause":
                self.elapse(int(verb.attr("length", "1")))
            elif verb.name == "Hangup":
                self.done = True
                return None
            elif verb.name == "Redirect":
                return self.webhook(verb.text, self.params())
            elif verb.name == "Gather":
                document = self.gather(verb)
                if document is not None or self.done:
                    return document
            elif verb.name == "Record":
                document = self.record(verb)
                if document is not None or self.done:
                    return document
            elif verb.name == "Dial":
                return self.dial(verb)
        self.done = True  # the end of a document: Twilio hangs up
        return None

    def start_stream(self, verb: Verb) -> None:
        """<Start><Stream>: Twilio opens the WebSocket and goes on with the next verb at once."""
        host = self.sim.stream_host
        if host is None:
            raise SimulationError("<Start><Stream> needs the app served on a socket (a stream host)")
        if self.leg is not None:
            return  # one stream per call: a second <Start> of the same name is ignored here
        timers = self.sim.timers or VirtualTimers(self.sim.clock)
        self.leg = StreamLeg(host, self.sim.clock, self.sim.stream_options, timers, self.log.call_sid,
                             self.sim.account_sid, self.sim.auth_token, self.callback)
        self.log.streamed, self.log.stream = True, self.leg
        self.leg.open(verb.children[0])

    def duration(self, url: str) -> float:
        seconds = self.sim.media_seconds.get(url)
        if seconds is None:  # Twilio caches <Play> media it has fetched once (the app allows a day)
            status, audio = self.sim.transport.get(url)
            if status != 200:
                raise SimulationError(f"{url}: Twilio could not fetch the audio to <Play> (HTTP {status})")
            with wave.open(io.BytesIO(audio), "rb") as wav:
                seconds = self.sim.media_seconds[url] = wav.getnframes() / wav.getframerate()
        return seconds

    def play(self, url: str) -> None:
        seconds = self.duration(url)
        self.log.played.append(url)
        self.elapse(seconds)

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

    def gather(self, verb: Verb) -> list[Verb] | None:
        """The next document, or None: no input (Twilio goes on with the next verb) or the caller hung up."""
        if self.leg is not None and verb.attr("numDigits", "1") == "1":
            return streamed_gather(self, verb)
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
                return None
            keys = KEY_OF.get(answer, "")
        if not keys:  # no input: Twilio goes on to the next verb
            self.elapse(int(verb.attr("timeout", "5")))
            return None
        return self.webhook(verb.attr("action"), self.params(Digits=keys, FinishedOnKey=""))

    def record(self, verb: Verb) -> list[Verb] | None:
        """The next document, or None: nothing recorded (the next verb runs) or the caller hung up."""
        answer = self.choose()
        action = verb.attr("action")
        if answer == "hangup":
            self.done = True
            self.callback(action, self.params(Digits="hangup"))  # the caller is gone: nothing more is run
            return None
        if answer == "silence":  # nothing recorded: Twilio goes on to the next verb
            self.elapse(int(verb.attr("timeout", "5")))
            return None
        if self.persona.mode == "dtmf":
            return self.webhook(action, self.params(Digits=KEY_OF[answer]))
        if self.persona.mode == "audio":
            if self.sim.speaker is None:
                raise SimulationError("audio mode needs a speaker (espeak-ng voice and lexicon of the flow's language)")
            recording = self.sim.speaker(answer)
        else:
            recording = self.sim.recognizer.clip(INTENT_OF[answer])
        sid, url = self.sim.media.add(recording, self.sim.recording_not_ready)
        speech_end = (self.sim.clock.now() - self.answered_at).total_seconds() * 1000 + 1000
        self.elapse(1 + int(verb.attr("timeout", "5")))
        began = time.perf_counter()
        document = self.webhook(action, self.params(RecordingUrl=url, RecordingSid=sid, RecordingDuration="1",
                                                    Digits=""))
        self.log.recorded.append({"seq": seq_of(action), "speech_end_ms": speech_end, "silence_ms": int(verb.attr("timeout", "5")) * 1000,
                                  "webhook_ms": (time.perf_counter() - began) * 1000})
        return document

    def dial(self, verb: Verb) -> list[Verb]:
        agent_leg = mint(CALL)  # <Dial> places a second call, with a SID of its own
        if self.sim.agent_answers:
            self.elapse(120)
            form: dict[str, Any] = {"DialCallStatus": "completed", "DialCallSid": agent_leg, "DialCallDuration": "110"}
        else:
            self.elapse(int(verb.attr("timeout", "30")))
            form = {"DialCallStatus": "no-answer", "DialCallSid": agent_leg, "DialCallDuration": "0"}
        return self.webhook(verb.attr("action"), self.params(**form))
