"""Streamed capture on the real database: the stream started once per call, questions in a DTMF <Gather>, the
compare-and-set between a streamed answer, a key and the <Gather> timeout, the answer's audio kept, and each
fallback to <Record> (no start, a stream-error callback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from calls import streamed
from calls.inputs import Heard
from flows.engine import CallerInput, InputKind
from ivr.stream_capture import StreamTokens
from ivr.stream_session import StreamSession
from ivr.web_stream import DatabasePort
from kit.vocab import RecordingStatus
from kit.wire import is_recording_sid
from speech.audio import Audio, read_wav
from speech.cache import PromptCache
from speech.lexicon import Intent
from storage.models import Recording
from tests.ivr.conftest import ACCOUNT, BASE, BIRTHDAY, STREAM_SECRET, TOKEN, Ivr, build_ivr, sid, verbs
from tests.ivr.stream_messages import TwilioStream, answer_audio

TOKENS = StreamTokens(STREAM_SECRET)


@pytest.fixture
def ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    built = build_ivr(engine, tmp_path, prompt_cache, streams=True)
    with built.http, built.app.app_context():
        yield built


def yes(source: str = "stream") -> Heard:
    return Heard(CallerInput(InputKind.YES, text="是"), {"source": source})


def take(ivr: Ivr, seq: int, heard: Heard | None = None) -> str | None:
    with ivr.session() as s:
        twiml = streamed.answer(s, ivr.svc.calls, sid("CA1"), seq, heard or yes())
        s.commit()
    return twiml


def answer_events(ivr: Ivr) -> list[str]:
    return [e.detail["input"] for e in ivr.events() if e.kind == "answer"]


def test_the_first_document_starts_one_stream_with_the_calls_token(ivr: Ivr) -> None:
    first = ivr.answer_call()
    assert verbs(first)[0] == "Start"
    stream = first.find("Start/Stream")
    assert stream is not None
    assert stream.attrib == {"name": "answers", "url": "wss://ivr.example.com/twilio/stream",
                             "track": "inbound_track", "statusCallback": f"{BASE}/twilio/stream/status",
                             "statusCallbackMethod": "POST"}
    [param] = stream.findall("Parameter")
    assert param.attrib == {"name": "token", "value": TOKENS.mint(sid("CA1"))}
    ivr.ok(ivr.turn(digits="1"))
    question = ivr.ok(ivr.turn(digits=BIRTHDAY))
    assert verbs(question) == ["Gather", "Redirect"]  # no second stream, no <Record>
    gather = question.find("Gather")
    assert gather is not None
    assert (gather.get("input"), gather.get("numDigits"), gather.get("timeout")) == ("dtmf", "1", "5")
    assert [child.tag for child in gather] == ["Play"] * len(gather)
    call = ivr.call()
    assert (call.capture, call.speech_seq) == ("stream", call.turn_seq)
    assert [seconds for seconds, _ in ivr.twilio_calls.scheduled] == [3.0]  # the start check


def test_a_server_that_records_its_answers_starts_no_stream(engine: Engine, tmp_path: Path,
                                                            prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    first = ivr.answer_call()
    assert "Start" not in verbs(first)
    assert ivr.call().capture == "record"


def test_a_streamed_answer_takes_the_turn_once_and_a_key_at_the_same_moment_changes_nothing(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    twiml = take(ivr, seq)
    assert twiml is not None
    assert "<Gather" in twiml
    assert take(ivr, seq) is None  # the same answer again
    state = ivr.call().state
    late_key = ivr.turn(digits="2", seq=seq)  # the <Gather>'s action for the same turn
    assert late_key.status_code == 200
    assert late_key.get_data(as_text=True) == twiml
    assert ivr.call().state == state
    assert answer_events(ivr)[-1] == "yes"


def test_a_key_first_then_the_streamed_answer_loses_and_changes_nothing(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    ivr.ok(ivr.turn(digits="2"))  # no, by key
    count = len(ivr.events())
    assert take(ivr, seq) is None
    assert len(ivr.events()) == count
    assert answer_events(ivr)[-1] == "digits"


def test_a_streamed_answer_to_a_turn_that_takes_keys_only_is_refused(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.ok(ivr.turn(digits="1"))  # the birthday is asked next, by keypad
    call = ivr.call()
    assert call.speech_seq is None
    assert take(ivr, call.turn_seq) is None


def test_the_answers_audio_is_kept_with_the_call_as_a_stored_recording(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    port = DatabasePort(ivr.svc)
    audio = Audio(np.arange(-4000, 4000, 1, dtype=np.int16), 8000)
    heard = Heard(CallerInput(InputKind.YES, text="是"), {"source": "stream", "stream_sid": "MZ" + "1" * 32})
    assert port.answer(sid("CA1"), seq, heard, audio) is not None
    assert port.answer(sid("CA1"), seq, heard, audio) is None
    with ivr.session() as s:
        [kept] = s.scalars(select(Recording)).all()
    assert kept.status is RecordingStatus.STORED
    assert is_recording_sid(kept.recording_sid)
    assert kept.source_url == f"stream:MZ{'1' * 32}#{seq}"
    assert kept.channels == 1
    assert kept.duration_s == 1
    assert kept.path is not None
    assert np.array_equal(read_wav(ivr.svc.files.read(kept.path)).samples, audio.samples)


def test_a_stream_that_never_starts_sends_the_call_to_record(ivr: Ivr) -> None:
    ivr.answer_call()
    seq = ivr.call().turn_seq
    [(_, check)] = ivr.twilio_calls.scheduled
    check()
    [(call_sid, twiml)] = ivr.twilio_calls.redirects
    assert call_sid == sid("CA1")
    assert "<Record" in twiml
    assert "<Gather" not in twiml
    call = ivr.call()
    assert (call.capture, call.turn_seq, call.last_twiml) == ("record", seq, twiml)
    [event] = [e for e in ivr.events() if e.kind == "stream"]
    assert event.text == "record_instead"
    assert event.detail["reason"] == "no stream start within 3000 ms of the answer"
    ivr.ok(ivr.turn(speech=Intent.YES))  # the recorded answer to the same question: it is the applicant
    assert answer_events(ivr) == ["yes"]
    question = ivr.ok(ivr.turn(digits=BIRTHDAY))
    assert verbs(question)[-2:] == ["Record", "Redirect"]  # the questions are recorded from now on


def test_a_started_stream_passes_the_start_check(ivr: Ivr) -> None:
    ivr.answer_call()
    assert DatabasePort(ivr.svc).open(sid("CA1"), {"streamSid": "MZ1"}) is not None
    ivr.twilio_calls.scheduled[0][1]()
    assert ivr.twilio_calls.redirects == []
    assert ivr.call().capture == "stream"


def test_no_input_on_a_stream_that_never_started_asks_the_same_question_with_record(ivr: Ivr) -> None:
    question = ivr.run_to_question()
    state = ivr.call().state
    again = ivr.ok(ivr.turn(no_input=True))
    assert "Record" in verbs(again)
    assert ivr.prompts_of(again)[-1] == ivr.prompts_of(question)[-1]  # the question itself, not a re-prompt
    call = ivr.call()
    assert call.capture == "record"
    assert call.state == state


def test_a_stream_error_callback_sends_the_call_to_record(ivr: Ivr) -> None:
    ivr.run_to_question()
    DatabasePort(ivr.svc).open(sid("CA1"), {"streamSid": "MZ1"})
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "StreamSid": "MZ" + "1" * 32, "StreamName": "answers",
            "StreamEvent": "stream-error", "StreamError": "Stream - WebSocket - Connection Broken Pipe",
            "Timestamp": "2026-11-25T01:00:00Z"}
    forged = ivr.post("/twilio/stream/status", form, token="not-the-token")
    assert forged.status_code == 403
    assert ivr.call().capture == "stream"
    assert ivr.post("/twilio/stream/status", form).status_code == 200
    [(_, twiml)] = ivr.twilio_calls.redirects
    assert "<Record" in twiml
    assert ivr.call().capture == "record"
    assert ivr.post("/twilio/stream/status", form).status_code == 200  # again: nothing more to do
    assert len(ivr.twilio_calls.redirects) == 1


def test_speech_the_stream_did_not_trust_is_what_the_gather_timeout_reports(ivr: Ivr) -> None:
    ivr.run_to_question()
    assert ivr.svc.streams is not None
    session = StreamSession(DatabasePort(ivr.svc), ivr.twilio_calls, ivr.recognizer, TOKENS)
    twilio = TwilioStream(sid("CA1"), TOKENS.mint(sid("CA1")))
    session.feed(twilio.start())
    ivr.svc.streams.registry.add(sid("CA1"), session)
    ivr.recognizer.say(Intent.UNKNOWN, "几点了")
    for message in twilio.media(answer_audio()):
        session.feed(message)
    assert ivr.twilio_calls.redirects == []  # not trusted: the prompt is not interrupted
    ivr.ok(ivr.turn(no_input=True))
    heard = [e for e in ivr.events() if e.kind == "answer"][-1]
    assert heard.detail["input"] == "unknown"
    assert heard.detail["source"] == "stream"
    assert heard.text == "几点了"


def test_a_streamed_call_end_to_end_through_the_database(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    session = StreamSession(DatabasePort(ivr.svc), ivr.twilio_calls, ivr.recognizer, TOKENS)
    twilio = TwilioStream(sid("CA1"), TOKENS.mint(sid("CA1")))
    session.feed(twilio.start())
    ivr.recognizer.say(Intent.YES, "是")
    for message in twilio.media(answer_audio()):
        session.feed(message)
    [(_, twiml)] = ivr.twilio_calls.redirects
    call = ivr.call()
    assert call.turn_seq == seq + 1
    assert call.last_twiml == twiml
    started, heard = [e for e in ivr.events() if e.kind in ("stream", "answer")][-2:]
    assert started.text == "started"
    assert heard.detail["source"] == "stream"
    assert heard.detail["input"] == "yes"
    assert session.armed is not None
    assert session.armed.seq == seq + 1


def test_the_websocket_handshake_needs_twilios_signature(ivr: Ivr) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert ivr.client.get("/twilio/stream", headers=upgrade).status_code == 403
    from twilio.request_validator import RequestValidator

    wrong = RequestValidator(TOKEN).compute_signature("wss://elsewhere.example.com/twilio/stream", {})
    assert ivr.client.get("/twilio/stream", headers={**upgrade, "X-Twilio-Signature": wrong}).status_code == 403


def test_a_server_that_records_its_answers_has_no_stream_route(engine: Engine, tmp_path: Path,
                                                               prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert ivr.client.get("/twilio/stream", headers=upgrade).status_code == 404


def test_a_fallback_after_the_call_ended_changes_nothing(ivr: Ivr) -> None:
    ivr.run_to_question()
    assert ivr.status("CA1", "completed", CallDuration="30", SequenceNumber="3").status_code == 200
    count = len(ivr.events())
    with ivr.session() as s:
        assert streamed.record_instead(s, ivr.svc.calls, sid("CA1"), "the stream closed without a stop message") is None
        s.commit()
    assert ivr.call().capture == "stream"
    assert len(ivr.events()) == count
