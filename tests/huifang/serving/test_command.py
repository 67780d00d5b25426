"""`huifang serve`'s refusals (one line, before any server starts), secrets from the environment or a file,
the [web] settings, and the dialer's own /metrics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from dialer.loop import TickResult
from huifang.app import App
from huifang.cli import cli
from huifang.config import ConfigError, load_settings
from huifang.serving.binding import is_loopback, parse_bind
from huifang.serving.dialer_metrics import metered, start_metrics_server
from huifang.serving.metrics import metrics_token
from kit.settings import DatabaseSettings, MetricsSettings
from tests.huifang.serving.helpers import METRICS_TOKEN, free_port

UNSIGNED = {"HUIFANG__TWILIO__VALIDATE_SIGNATURES": "false", "HUIFANG__TWILIO__AUTH_TOKEN": '""'}


def test_unsigned_webhooks_are_refused_without_insecure() -> None:
    result = CliRunner().invoke(cli, ["serve", "--webhooks-only"], env=UNSIGNED)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "huifang: twilio.validate_signatures is false: anyone who can reach the server could drive its calls; turn "
        "it on, or pass --insecure to experiment on a loopback address"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])
def test_insecure_is_for_loopback_addresses_only(host: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--webhooks-only", "--insecure", "--host", host], env=UNSIGNED)
    assert result.exit_code == 1
    assert result.stderr == f"huifang: --insecure serves unsigned webhooks on loopback addresses only, not on {host}\n"


def test_the_bind_address_and_loopback() -> None:
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("8080", "host:", "host:http", "h:70000", ":80"):
        with pytest.raises(ValueError, match="web.bind: expected HOST:PORT"):
            parse_bind(bad)
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_web_settings_are_checked_naming_the_key() -> None:
    for env, message in [({"HUIFANG__WEB__LOG_FORMAT": '"xml"'}, "web.log_format: 'xml' is not one of text, json"),
                         ({"HUIFANG__WEB__WORKERS": "0"}, "web.workers: must be at least 1"),
                         ({"HUIFANG__WEB__BIND": '"nowhere"'}, "web.bind: expected HOST:PORT"),
                         ({"HUIFANG__METRICS__DIALER_BIND": '"x"'}, "metrics.dialer_bind: expected HOST:PORT"),
                         ({"HUIFANG__WEB__MAX_CONTENT_LENGTH": "10"}, "web.max_content_length: must be at least")]:
        with pytest.raises(ConfigError, match=message):
            load_settings(None, environ=env)


def test_the_twilio_token_and_the_metrics_token_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "twilio-token"
    token_file.write_text("file-token-value\n", encoding="utf-8")
    assert load_settings(None, {"HUIFANG_TWILIO_AUTH_TOKEN_FILE": str(token_file)}).twilio.auth_token == \
        "file-token-value"
    with pytest.raises(ConfigError, match=r"HUIFANG_TWILIO_AUTH_TOKEN_FILE: cannot read .*missing"):
        load_settings(None, {"HUIFANG_TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "missing")})
    metrics_file = tmp_path / "metrics-token"
    metrics_file.write_text(METRICS_TOKEN + "\n", encoding="utf-8")
    assert metrics_token({"HUIFANG_METRICS_TOKEN_FILE": str(metrics_file)}) == METRICS_TOKEN
    assert metrics_token({"HUIFANG_METRICS_TOKEN": "env-token-0123456789", "HUIFANG_METRICS_TOKEN_FILE":
                          str(metrics_file)}) == "env-token-0123456789"
    assert metrics_token({}) is None
    with pytest.raises(ConfigError, match="at least 16 characters"):
        metrics_token({"HUIFANG_METRICS_TOKEN": "short"})


def test_a_secret_in_a_file_is_never_echoed_by_a_refusal(tmp_path: Path) -> None:
    token_file = tmp_path / "twilio-token"
    token_file.write_text("file-token-value", encoding="utf-8")
    env = {"HUIFANG_TWILIO_AUTH_TOKEN_FILE": str(token_file), "HUIFANG_METRICS_TOKEN": "short",
           "HUIFANG_SECRET_KEY": ""}
    result = CliRunner().invoke(cli, ["serve", "--webhooks-only"], env=env)
    assert result.exit_code == 1
    assert result.stderr == "huifang: cannot start the web app: HUIFANG_METRICS_TOKEN: the metrics token must be " \
                            "at least 16 characters\n"
    assert "file-token-value" not in result.output + result.stderr


def test_the_dialer_serves_its_own_metrics_behind_the_token(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    port = free_port()
    app = App(settings=load_settings(None, environ={}))
    app = App(settings=replace(app.settings, database=DatabaseSettings(url=db_url),
                               metrics=MetricsSettings(dialer_bind=f"127.0.0.1:{port}")))
    monkeypatch.delenv("HUIFANG_METRICS_TOKEN", raising=False)
    monkeypatch.delenv("HUIFANG_METRICS_TOKEN_FILE", raising=False)
    with pytest.raises(ValueError, match="no metrics token"):
        start_metrics_server(app)
    monkeypatch.setenv("HUIFANG_METRICS_TOKEN", METRICS_TOKEN)
    server = start_metrics_server(app)
    assert server is not None
    try:
        metered(lambda: TickResult(claimed=3, placed=2, released=1))()
        url = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(url, timeout=10).status_code == 401
        body = requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
        assert 'huifang_dialer_tasks_total{event="claimed"}' in body
        assert "huifang_dialer_ticks_total" in body
        assert "huifang_dialer_due_backlog 0.0" in body
        assert "huifang_metrics_database_up 1.0" in body
    finally:
        server.shutdown()
        server.server_close()
        app.close()



def test_the_master_freezes_what_it_built_before_each_fork() -> None:
    """Objects made before the fork (the app, the flows, the ASR grammar) are left out of the workers' full
    collections, which stop every thread of a worker while they scan them."""
    import gc

    from huifang.serving.gunicorn_app import options

    hooks = options(load_settings(environ={}), "127.0.0.1:0", after_fork=lambda: None)
    made_before_fork = [object() for _ in range(10)]  # noqa: F841 - alive while the hook runs
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        hooks["pre_fork"](None, None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
