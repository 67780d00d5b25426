"""The simulated Twilio running one call's TwiML (ivr.harness.simulator): the call's progress and status
callbacks, voice webhooks with Twilio's fallback and application error, each verb in turn on the virtual clock
(streamed while a Media Stream is open), call updates replacing the running document, and the callee's answers
by key, recording or voice."""

from __future__ import annotations

import io
import time
import wave
from datetime import timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from ivr.harness.call_log import (
    APPLICATION_ERROR,
    INTENT_OF,
    KEY_OF,
    MAX_REQUESTS,
    NO_RESPONSE,
    WEBHOOK_TIMEOUT,
    ApplicationError,
    CallLog,
    CallUrls,
    Notification,
    Redirected,
    SimulationError,
    silence_wav,
)
from ivr.harness.persona import Persona
from ivr.harness.sids import CALL, mint
from ivr.harness.stream_turns import seq_of, streamed_gather
from ivr.harness.streamed import Interrupt, StreamLeg, VirtualTimers
from ivr.harness.twiml import TwimlError, Verb, parse

if TYPE_CHECKING:
    from ivr.harness.simulator import Simulator


class Caller:
    """One call as Twilio plays it for a Simulator (Simulator.run makes one per call): `log` is what it left."""

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
        fails too (or there is none), the caller hears the application error (ApplicationError)."""
        verbs, failure = self.fetch(url, form)
        if failure is None:
            return verbs
        if self.fallback_url is None:
            raise ApplicationError(url)
        verbs, fallback_failure = self.fetch(self.fallback_url, {**form, "ErrorCode": failure.code, "ErrorUrl": url})
        if fallback_failure is not None:
            raise ApplicationError(url)
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
        except ApplicationError:
            verbs = None
        self.status("in-progress", AnsweredBy=answered_by)
        try:
            if verbs is None:
                raise ApplicationError("answer")
            self.execute(verbs)
        except ApplicationError:  # Twilio's own message, then it hangs up
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
        sid, url = self.sim.media.add(silence_wav(min(seconds, 5)))
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
                raise ApplicationError("update") from None
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
