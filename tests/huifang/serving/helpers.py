"""What the serving tests share: a policy with a task on the test database, Twilio-signed forms, the app as
`huifang serve` composes it (in process), and `huifang serve` itself in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import Engine, select, text
from twilio.request_validator import RequestValidator

from huifang.app import App
from huifang.web import build_services, compose
from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.media import SilentRenderer
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, IvrSettings, Settings, TwilioSettings
from storage.db import make_session_factory, units_of_work
from storage.models import CallbackTask
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.factories import policy_row, write_csv
from tests.ivr.conftest import ACCOUNT, BASE, TOKEN

ROOT = Path(__file__).resolve().parents[3]
METRICS_TOKEN = "metrics-token-for-tests-0123456789"
SECRET_KEY = "console-secret-key-for-tests-0123456789"


def one_task(engine: Engine, tmp_path: Path, **row: str) -> int:
    """Imports one policy that needs a callback; its task's id."""
    sessions = make_session_factory(engine)
    path = write_csv(tmp_path / "policy.csv", [policy_row(**row)])
    PolicyIntake(units_of_work(sessions), settings=Settings(), calendar=BusinessCalendar(),
                 clock=FrozenClock(NOW)).run(open_table(path))
    with sessions() as session:
        return int(session.scalars(select(CallbackTask.id)).one())


def place(engine: Engine, task_id: int, call_sid: str) -> str:
    """What the dialer does once Twilio took a call: register its SID for the task (webhooks refuse a call its
    task did not place)."""
    with make_session_factory(engine)() as session:
        task = session.get(CallbackTask, task_id)
        assert task is not None
        call_repo.create(session, call_sid=call_sid, task_id=task.id, policy_id=task.policy_id, now=NOW)
        session.commit()
    return call_sid


def hold_the_call(backend: str, engine: Engine, db_url: str, call_sid: str) -> tuple[object, object]:
    """Lock what the next webhook for the call needs: its row (PostgreSQL) or the database (SQLite)."""
    if backend == "postgresql":
        connection = engine.connect()
        transaction = connection.begin()
        connection.execute(text("SELECT id FROM calls WHERE call_sid = :sid FOR UPDATE"), {"sid": call_sid})
        return connection, transaction
    lite = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    lite.execute("BEGIN IMMEDIATE")
    return lite, None


def release(backend: str, held: tuple[object, object]) -> None:
    connection, transaction = held
    if backend == "postgresql":
        transaction.rollback()  # type: ignore[attr-defined]
        connection.close()  # type: ignore[attr-defined]
    else:
        connection.rollback()  # type: ignore[attr-defined]
        connection.close()  # type: ignore[attr-defined]


def status_form(call_sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+861085551234", "To": "+8613812345678",
            "CallStatus": status, "ApiVersion": "2010-04-01", "Direction": "outbound-api", **extra}


def signature(path: str, form: dict[str, str], base: str = BASE) -> str:
    return str(RequestValidator(TOKEN).compute_signature(base + path, form))


def settings_for(db_url: str, tmp_path: Path) -> Settings:
    settings = Settings()
    return replace(settings, database=DatabaseSettings(url=db_url),
                   twilio=TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN),
                   ivr=IvrSettings(public_base_url=BASE),
                   speech=replace(settings.speech, prompt_cache_dir=str(tmp_path / "prompts")),
                   recordings=replace(settings.recordings, root=str(tmp_path / "recordings")))


def composed(settings: Settings, *, secret: str | None = None, token: str | None = METRICS_TOKEN) -> Flask:
    app = App(settings=settings, clock=FrozenClock(NOW))
    return compose(app, build_services(app, with_asr=False, renderer=SilentRenderer()), secret, token)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`huifang serve` (gunicorn) in a subprocess on a free loopback port, over the test database."""

    def __init__(self, db_url: str, tmp_path: Path, *args: str, now: str | None = None, **settings: object) -> None:
        """`settings`: section__name=value (HUIFANG__SECTION__NAME, JSON); `now`: HUIFANG_NOW, the app's clock
        frozen there (ISO 8601 with offset), as the harness's virtual clock stands when a call starts."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "HUIFANG_DATABASE_URL": db_url,
                    "HUIFANG__TWILIO__ACCOUNT_SID": json.dumps(ACCOUNT),
                    "HUIFANG__TWILIO__AUTH_TOKEN": json.dumps(TOKEN),
                    "HUIFANG__IVR__PUBLIC_BASE_URL": json.dumps(BASE),
                    "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts")),
                    "HUIFANG__RECORDINGS__ROOT": json.dumps(str(tmp_path / "recordings")),
                    "HUIFANG_METRICS_TOKEN": METRICS_TOKEN, "HUIFANG_SECRET_KEY": SECRET_KEY}
        self.env.pop("HUIFANG_NOW", None)
        if now is not None:
            self.env["HUIFANG_NOW"] = now
        for key, value in settings.items():
            section, name = key.split("__")
            self.env[f"HUIFANG__{section.upper()}__{name.upper()}"] = json.dumps(value)
        self.log = tmp_path / f"serve-{self.port}.log"
        self._log_handle = self.log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "huifang.cli", "serve", "--port", str(self.port), *args],
                                        cwd=ROOT, env=self.env, stdout=self._log_handle, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """A bounded poll of /healthz until the server answers (or a failure with its output)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}: {self.output()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready within {timeout_s} s: {self.output()}")

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=30)

    def webhook(self, path: str, form: dict[str, str], *, signed: bool = True) -> requests.Response:
        headers = {"X-Twilio-Signature": signature(path, form)} if signed else {}
        return requests.post(self.url + path, data=form, headers=headers, timeout=60)

    def metrics(self) -> str:
        response = self.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
        assert response.status_code == 200, response.text
        return response.text

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self._log_handle.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_handle.close()

    def output(self) -> str:
        if not self._log_handle.closed:
            self._log_handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")
