"""`huifang serve` as it runs in production: gunicorn in a subprocess, two gthread workers, over the test
database (SQLite and PostgreSQL). Marked slow (a server start each, about 2 s)."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select

from storage.models import Call
from tests.huifang.serving.helpers import (
    METRICS_TOKEN,
    SECRET_KEY,
    ServeProcess,
    hold_the_call,
    one_task,
    place,
    release,
    status_form,
)
from tests.ivr.conftest import TOKEN

pytestmark = pytest.mark.slow


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    served = ServeProcess(db_url, tmp_path, web__workers=2, web__threads=4, web__log_format="json",
                          metrics__db_timeout_s=0.5)
    try:
        served.wait_ready()
        yield served
    finally:
        served.kill()


def test_serve_answers_health_readiness_signed_webhooks_and_metrics_behind_the_token(
        server: ServeProcess, engine: Engine, tmp_path: Path) -> None:
    assert server.get("/healthz").text.strip() == "ok"
    ready = server.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"database": "ok", "migrations": "ok", "prompt_cache": "ok",
                                                       "asr": "off"})
    task = one_task(engine, tmp_path)
    path = f"/twilio/voice/status?task={task}"
    place(engine, task, "CA" + "1" * 32)
    assert server.webhook(path, status_form("CA" + "1" * 32, "initiated"), signed=False).status_code == 403
    taken = server.webhook(path, status_form("CA" + "1" * 32, "initiated"))
    assert (taken.status_code, taken.text) == (200, "taken\n")
    assert taken.headers["X-Content-Type-Options"] == "nosniff"
    assert taken.headers["Cache-Control"] == "no-store"

    assert server.get("/metrics").status_code == 401
    assert server.get("/metrics", Authorization="Bearer wrong-token-wrong-token").status_code == 401
    metrics = server.metrics()
    assert 'huifang_http_requests_total{method="POST",route="/twilio/voice/status",status="200"} 1.0' in metrics
    assert 'huifang_http_requests_total{method="POST",route="/twilio/voice/status",status="403"} 1.0' in metrics
    assert 'huifang_http_request_duration_seconds_count{method="POST",route="/twilio/voice/status"} 2.0' in metrics
    assert "huifang_metrics_database_up 1.0" in metrics
    assert 'huifang_calls_total{outcome="in_progress"} 1.0' in metrics
    assert "task=" not in metrics  # route templates, never the raw URL

    assert server.terminate() == 0
    output = server.output()
    for secret in (METRICS_TOKEN, TOKEN, SECRET_KEY):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    [webhook] = [line for line in lines if line.get("route") == "/twilio/voice/status" and line["status"] == 200]
    assert webhook["call_sid"] == "CA" + "1" * 32
    assert webhook["task"] == str(task)
    assert webhook["method"] == "POST"
    assert webhook["duration_ms"] > 0
    assert any(line["message"].startswith("Booting worker") for line in lines)  # gunicorn's lines, as JSON too


def test_sigterm_lets_an_in_flight_webhook_finish_then_exits_cleanly(
        server: ServeProcess, backend: str, engine: Engine, db_url: str, tmp_path: Path) -> None:
    task = one_task(engine, tmp_path)
    sid = place(engine, task, "CA" + "2" * 32)
    path = f"/twilio/voice/status?task={task}"
    assert server.webhook(path, status_form(sid, "initiated")).status_code == 200
    held = hold_the_call(backend, engine, db_url, sid)
    answers: list[requests.Response] = []
    in_flight = threading.Thread(target=lambda: answers.append(server.webhook(path, status_form(sid, "ringing"))))
    try:
        in_flight.start()
        waiting = 'huifang_http_requests_in_flight{route="/twilio/voice/status"} 1.0'
        for _ in range(200):  # bounded: the webhook reaches the server and waits on the lock
            if waiting in server.metrics():
                break
        else:
            raise AssertionError("the webhook never showed as in flight")
        server.process.send_signal(signal.SIGTERM)
    finally:
        release(backend, held)
    in_flight.join(timeout=60)
    assert [(a.status_code, a.text) for a in answers] == [(200, "taken\n")]
    assert server.terminate() == 0
    with engine.connect() as conn:
        assert conn.execute(select(Call.twilio_status).where(Call.call_sid == sid)).scalar_one() == "ringing"
    assert "Handling signal: term" in server.output()
