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

from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.harness.call_log import (
    APPLICATION_ERROR,
    KEY_OF,
    NO_RESPONSE,
    CallLog,
    CallUrls,
    Notification,
    Oracle,
    SimulationError,
    Transport,
    silence_wav,
)
from ivr.harness.caller import Caller
from ivr.harness.media import InjectedRecognizer, MediaHost
from ivr.harness.persona import Persona
from ivr.harness.streamed import StreamHost, StreamOptions, VirtualTimers
from kit.clock import FrozenClock

__all__ = ["APPLICATION_ERROR", "KEY_OF", "NO_RESPONSE", "CallLog", "CallUrls", "Notification", "Oracle",
           "SimulationError", "Simulator", "Transport", "silence_wav"]


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
        caller = Caller(self, task_id, call_sid, to, persona, attempt, fallback_url or self.fallback_url, urls)
        caller.run()
        return caller.log
