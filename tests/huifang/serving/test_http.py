"""What every request of the composed web app gets (in process, both databases): /healthz, /readyz,
/metrics behind its token, security headers, the body size limit, one log line per webhook."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from console.app import CSP
from kit.settings import DatabaseSettings, Settings, WebSettings
from storage.models import Call
from tests.huifang.serving.helpers import (
    METRICS_TOKEN,
    SECRET_KEY,
    composed,
    one_task,
    place,
    settings_for,
    signature,
    status_form,
)


@pytest.fixture
def settings_db(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path)


@pytest.fixture
def client(settings_db: Settings) -> FlaskClient:
    return composed(settings_db, secret=SECRET_KEY).test_client()


def post_signed(client: FlaskClient, path: str, form: dict[str, str]) -> object:
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature(path, form)})


def test_healthz_and_readyz_need_no_credentials(client: FlaskClient) -> None:
    health = client.get("/healthz")
    assert (health.status_code, health.get_data(as_text=True).strip(), health.mimetype) == (200, "ok", "text/plain")
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json) == (200, {"database": "ok", "migrations": "ok", "prompt_cache": "ok",
                                                     "asr": "off"})
    assert ready.headers["Cache-Control"] == "no-store"


def test_readyz_is_503_on_a_database_without_the_schema_and_an_unwritable_prompt_cache(
        backend: str, settings_db: Settings, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    settings = replace(settings_db, database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'empty.db'}"),
                       speech=replace(settings_db.speech, prompt_cache_dir=str(tmp_path / "a-file" / "prompts"),
                                      prompt_url_secret="s" * 32))  # no key to keep in the cache
    ready = composed(settings).test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"database": "ok", "migrations": "no schema: run huifang db upgrade",
                          "prompt_cache": "not writable (Not a directory)", "asr": "off"}


def test_readyz_is_503_when_the_database_is_unreachable(backend: str, settings_db: Settings) -> None:
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    ready = composed(replace(settings_db, database=DatabaseSettings(url=unreachable))).test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json is not None
    assert ready.json["database"] == "unreachable (OperationalError)"


def test_metrics_only_with_the_bearer_token(client: FlaskClient, settings_db: Settings) -> None:
    assert composed(settings_db, token=None).test_client().get("/metrics").status_code == 404
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}).status_code == 401
    client.get("/healthz")
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.mimetype == "text/plain"
    body = scraped.get_data(as_text=True)
    for name in ("huifang_http_requests_total", "huifang_http_request_duration_seconds_bucket",
                 "huifang_http_requests_in_flight", "huifang_metrics_database_up 1.0", "huifang_cases_open",
                 "huifang_recordings_pending", "huifang_dialer_in_flight", "huifang_dialer_due_backlog"):
        assert name in body
    names = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and not line.startswith("#")}
    assert all(name.startswith("huifang_") for name in names), names


def test_metrics_count_calls_by_outcome_and_the_due_backlog(client: FlaskClient, engine: Engine,
                                                            tmp_path: Path) -> None:
    task = one_task(engine, tmp_path)
    before = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert "huifang_dialer_due_backlog" in before
    sid = place(engine, task, "CA" + "3" * 32)
    assert post_signed(client, f"/twilio/voice/status?task={task}", status_form(sid, "busy")).status_code == 200
    after = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert 'huifang_calls_total{outcome="busy"} 1.0' in after


def test_security_headers_on_twiml_pages_and_errors(client: FlaskClient, engine: Engine, tmp_path: Path) -> None:
    task = one_task(engine, tmp_path)
    twiml_like = post_signed(client, f"/twilio/voice/status?task={task}",
                             status_form(place(engine, task, "CA" + "4" * 32), "initiated"))
    page = client.get("/console/login")
    missing = client.get("/prompts/" + "0" * 64 + ".wav")
    for response in (twiml_like, page, missing):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Security-Policy"] == CSP
    assert twiml_like.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert missing.status_code == 404


def test_a_body_over_the_limit_is_refused_with_413_and_changes_nothing(settings_db: Settings, engine: Engine,
                                                                       tmp_path: Path) -> None:
    client = composed(replace(settings_db, web=WebSettings(max_content_length=2048))).test_client()
    task = one_task(engine, tmp_path)
    form = status_form("CA" + "5" * 32, "initiated", Padding="x" * 4096)
    refused = post_signed(client, f"/twilio/voice/status?task={task}", form)
    assert refused.status_code == 413  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Call)).scalar_one() == 0


def test_one_log_line_per_webhook_with_sid_task_route_status_duration(
        client: FlaskClient, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    task = one_task(engine, tmp_path)
    with caplog.at_level(logging.INFO, logger="huifang.web"):
        post_signed(client, f"/twilio/voice/status?task={task}", status_form(place(engine, task, "CA" + "6" * 32),
                                                                              "initiated"))
        client.post(f"/twilio/voice/status?task={'9' * 400}", data=status_form("CA\n forged", "ringing"))
    first, forged = [r for r in caplog.records if r.name == "huifang.web"]
    assert (first.route, first.status, first.call_sid, first.task) == (  # type: ignore[attr-defined]
        "/twilio/voice/status", 200, "CA" + "6" * 32, str(task))
    assert first.duration_ms >= 0  # type: ignore[attr-defined]
    assert first.getMessage().startswith("POST /twilio/voice/status 200 ")
    assert (forged.status, forged.call_sid, forged.task) == (403, None, None)  # type: ignore[attr-defined]
    assert "\n" not in forged.getMessage()
