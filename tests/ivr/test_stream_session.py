"""StreamSession driven with Twilio's messages (no sockets): arming per turn, deciding on the stream's clock,
the compare-and-set's loser, speech not trusted, re-arming, and the fallbacks to <Record>."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from calls.inputs import Heard
from calls.streamed import Listening
from flows.engine import InputKind
from ivr.stream_capture import StreamTokens
from ivr.stream_session import DecodeSlots, StreamRefused, StreamSession, StreamSettings
from speech.asr import Recognition
from speech.audio import Audio, concatenate
from speech.lexicon import Intent
from speech.stream import EndpointSettings
from tests.ivr.stream_messages import TwilioStream, answer_audio, quiet, tone

CALL = "CA" + "a" * 32
TOKENS = StreamTokens(b"secret")


@dataclass
class FakePort:
    now: Listening = field(default_factory=lambda: Listening(3, True, True))
    take: bool = True
    accept: bool = True
    opened: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, Heard, Audio]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    reads: int = 0

    def open(self, call_sid: str, detail: dict[str, Any]) -> Listening | None:
        assert call_sid == CALL
        self.opened.append(detail)
        return self.now if self.accept else None

    def where(self, call_sid: str) -> Listening | None:
        self.reads += 1
        return self.now

    def answer(self, call_sid: str, seq: int, heard: Heard, audio: Audio) -> str | None:
        self.answers.append((seq, heard, audio))
        if not self.take or seq != self.now.seq:
            return None
        self.now = Listening(seq + 1, True, True)
        return f"<Response><Play>q{seq + 1}</Play></Response>"

    def record_instead(self, call_sid: str, reason: str) -> str | None:
        self.fallbacks.append(reason)
        self.now = Listening(self.now.seq, self.now.listening, False)
        return "<Response><Record/></Response>"


@dataclass
class FakeUpdater:
    redirects: list[tuple[str, str]] = field(default_factory=list)

    def redirect(self, call_sid: str, twiml: str) -> bool:
        self.redirects.append((call_sid, twiml))
        return True


@dataclass
class Scripted:
    results: list[Intent] = field(default_factory=list)
    heard: list[Audio] = field(default_factory=list)

    def recognize(self, audio: Audio) -> Recognition:
        self.heard.append(audio)
        intent = self.results.pop(0)
        return Recognition(intent, 0.9, {Intent.YES: "네", Intent.NO: "아니요"}.get(intent, "몇 시예요"))


@dataclass
class Events:
    counts: Counter[str] = field(default_factory=Counter)
    observed: list[tuple[str, float]] = field(default_factory=list)

    def count(self, event: str) -> None:
        self.counts[event] += 1

    def observe(self, name: str, seconds: float) -> None:
        self.observed.append((name, seconds))


@dataclass
class Rig:
    port: FakePort = field(default_factory=FakePort)
    updater: FakeUpdater = field(default_factory=FakeUpdater)
    recognizer: Scripted = field(default_factory=Scripted)
    events: Events = field(default_factory=Events)
    wall_s: float = 100.0
    twilio: TwilioStream = field(default_factory=lambda: TwilioStream(CALL, TOKENS.mint(CALL)))
    session: StreamSession = field(init=False)

    def __post_init__(self) -> None:
        self.session = StreamSession(self.port, self.updater, self.recognizer, TOKENS,
                                     StreamSettings(EndpointSettings(end_silence_ms=350)), self.events,
                                     wall=lambda: self.wall_s)

    def start(self) -> None:
        self.session.feed(self.twilio.connected())
        self.session.feed(self.twilio.start())

    def play(self, audio: Audio) -> None:
        for message in self.twilio.media(audio):
            self.session.feed(message)


@pytest.fixture
def rig() -> Rig:
    built = Rig()
    built.start()
    return built


def test_a_trusted_yes_moves_the_call_on_once_the_caller_stops_speaking(rig: Rig) -> None:
    rig.recognizer.results = [Intent.YES]
    rig.play(answer_audio(lead_s=0.5, speech_s=0.6, tail_s=0.6))
    [(seq, heard, audio)] = rig.port.answers
    assert (seq, heard.input.kind, heard.input.text) == (3, InputKind.YES, "네")
    assert heard.detail["source"] == "stream"
    assert heard.detail["speech_end_ms"] == 1100
    assert heard.detail["decided_ms"] - heard.detail["speech_end_ms"] == 360  # 350 ms of quiet, whole frames
    assert rig.updater.redirects == [(CALL, "<Response><Play>q4</Play></Response>")]
    [decision] = rig.session.decisions
    assert (decision.seq, decision.intent) == (3, Intent.YES)
    assert 360 <= decision.gap_ms < 360 + 1000  # the endpoint wait plus the work done
    assert audio.seconds == pytest.approx(1.48, abs=0.021)  # the question's audio up to the decision
    assert rig.recognizer.heard[0].seconds < 1.3  # the recogniser gets the utterance, not the whole question
    assert rig.events.counts["answered"] == 1
    assert rig.events.counts["started"] == 1


def test_the_next_question_is_listened_to_after_an_answer(rig: Rig) -> None:
    rig.recognizer.results = [Intent.YES, Intent.NO]
    rig.play(answer_audio())
    rig.play(answer_audio())
    assert [(seq, heard.input.kind) for seq, heard, _ in rig.port.answers] == [(3, InputKind.YES), (4, InputKind.NO)]
    assert len(rig.updater.redirects) == 2


def test_speech_the_recogniser_does_not_trust_does_not_interrupt(rig: Rig) -> None:
    rig.recognizer.results = [Intent.UNKNOWN, Intent.YES]
    rig.play(answer_audio())
    assert rig.port.answers == []
    assert rig.updater.redirects == []
    unknown = rig.session.heard_unknown(3)
    assert unknown is not None
    assert unknown["intent"] == "unknown"
    assert unknown["text"] == "몇 시예요"
    rig.play(answer_audio())  # then a clear answer to the same question
    assert [seq for seq, _, _ in rig.port.answers] == [3]


def test_an_answer_that_loses_the_race_changes_nothing_and_redirects_nothing(rig: Rig) -> None:
    rig.port.take = False  # a key or the <Gather> timeout took turn 3 first
    rig.recognizer.results = [Intent.YES]
    rig.play(answer_audio())
    assert len(rig.port.answers) == 1
    assert rig.updater.redirects == []
    assert rig.events.counts["lost_race"] == 1
    assert rig.session.decisions == []


def test_a_turn_taken_by_a_webhook_rearms_at_once_and_drops_speech_in_progress(rig: Rig) -> None:
    rig.recognizer.results = [Intent.NO]
    rig.play(concatenate(quiet(0.5), tone(0.4)))  # the caller starts talking on turn 3 ...
    rig.port.now = Listening(4, True, True)
    rig.session.turn_changed()  # ... when a key takes it (ivr.web_twilio.turn, this process)
    rig.play(concatenate(tone(0.4), quiet(0.6)))
    [(seq, _heard, audio)] = rig.port.answers
    assert seq == 4
    assert audio.seconds < 1.05  # turn 4's audio only: what was said before it is not its answer


def test_a_turn_taken_in_another_process_is_found_by_polling(rig: Rig) -> None:
    rig.recognizer.results = [Intent.YES]
    rig.port.now = Listening(5, True, True)  # no notification: another process took turns 3 and 4
    rig.play(quiet(1.1))
    rig.play(answer_audio())
    assert [seq for seq, _, _ in rig.port.answers] == [5]


def test_a_turn_that_does_not_listen_for_speech_decides_nothing(rig: Rig) -> None:
    rig.port.now = Listening(3, False, True)  # e.g. the birthday by keypad, or a hand-off
    rig.session.turn_changed()
    rig.play(answer_audio())
    assert rig.recognizer.heard == []
    assert rig.port.answers == []


def test_decoding_that_falls_behind_real_time_sends_the_call_to_record(rig: Rig) -> None:
    rig.wall_s += 2.0  # two seconds of wall time have passed, the first frame is stamped 0 ms
    rig.recognizer.results = [Intent.YES]
    rig.play(answer_audio())
    assert len(rig.port.fallbacks) == 1
    assert "2000 ms behind" in rig.port.fallbacks[0]
    assert rig.updater.redirects == [(CALL, "<Response><Record/></Response>")]
    assert rig.recognizer.heard == []
    assert rig.session.recording
    assert rig.events.counts["fallback_lag"] == 1


def test_a_call_moved_to_record_elsewhere_is_no_longer_decided(rig: Rig) -> None:
    rig.port.now = Listening(3, True, False)  # a stream-error callback, served by another process
    rig.recognizer.results = [Intent.YES]
    rig.play(quiet(1.1))
    rig.play(answer_audio())
    assert rig.recognizer.heard == []
    assert rig.updater.redirects == []


@pytest.mark.parametrize("token", ["", "0" * 40, TOKENS.mint("CA" + "b" * 32)])
def test_a_stream_without_the_calls_token_is_refused_and_changes_nothing(token: str) -> None:
    rig = Rig()
    with pytest.raises(StreamRefused, match="token"):
        rig.session.feed(rig.twilio.start(token=token))
    assert rig.port.opened == []
    assert rig.events.counts["refused"] == 1


def test_media_before_start_and_an_unexpected_format_are_refused() -> None:
    rig = Rig()
    with pytest.raises(StreamRefused, match="before start"):
        rig.session.feed(rig.twilio.media(quiet(0.02))[0])
    start = rig.twilio.start()
    start["start"]["mediaFormat"]["sampleRate"] = 16000
    with pytest.raises(StreamRefused, match="media format"):
        rig.session.feed(start)
    assert rig.port.opened == []


def test_a_call_that_does_not_stream_its_answers_is_refused() -> None:
    rig = Rig()
    rig.port.accept = False
    with pytest.raises(StreamRefused, match="does not take its answers from a stream"):
        rig.session.feed(rig.twilio.start())


def test_a_bad_frame_is_counted_and_the_stream_goes_on(rig: Rig) -> None:
    [frame] = rig.twilio.media(quiet(0.02))
    frame["media"]["payload"] = "not base64!"
    rig.session.feed(frame)
    assert rig.events.counts["bad_frame"] == 1
    assert rig.session.processed_ms == 0
    rig.recognizer.results = [Intent.YES]
    rig.play(answer_audio())
    assert len(rig.port.answers) == 1


def test_the_outbound_track_is_not_the_callers_answer(rig: Rig) -> None:
    for message in rig.twilio.media(answer_audio()):
        message["media"]["track"] = "outbound"
        rig.session.feed(message)
    assert rig.recognizer.heard == []


def test_stop_closes_the_session_and_releases_a_waiting_peer(rig: Rig) -> None:
    rig.session.feed(rig.twilio.stop())
    assert rig.session.closed
    assert rig.events.counts["closed_stop"] == 1
    assert rig.session.wait_processed(10_000, timeout_s=0.0)  # nothing more will be processed: no wait
    rig.play(answer_audio())  # frames after stop are ignored
    assert rig.session.processed_ms == -1


def test_wait_processed_reports_the_frames_handled(rig: Rig) -> None:
    rig.play(quiet(0.1))
    assert rig.session.processed_ms == 80
    assert rig.session.wait_processed(80, timeout_s=0.0)
    assert not rig.session.wait_processed(100, timeout_s=0.0)


def test_a_recognition_holds_a_decode_slot_while_it_runs() -> None:
    slots = DecodeSlots(1)
    held: list[bool] = []

    class Probe(Scripted):
        def recognize(self, audio: Audio) -> Recognition:
            gate = slots._gate
            assert gate is not None
            free = gate.acquire(blocking=False)  # another stream's decode would have to wait now
            if free:
                gate.release()
            held.append(not free)
            return super().recognize(audio)

    rig = Rig(recognizer=Probe(results=[Intent.YES]))
    rig.session.slots = slots
    rig.start()
    rig.play(answer_audio())
    assert held == [True]
    assert len(rig.port.answers) == 1
    gate = slots._gate
    assert gate is not None
    assert gate.acquire(blocking=False)
    assert DecodeSlots(0)._gate is None  # 0: no limit in the session (the wiring turns 0 into the core count)
