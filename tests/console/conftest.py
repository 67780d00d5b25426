"""The console's test fixture (two branches with one case each, a branch user and a supervisor) and helpers to
sign in and post forms the way a browser does (with the CSRF token from the page)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from accounts.service import add_user
from cases.service import NewCase, open_cases
from console.app import mount_console
from console.context import ConsoleContext
from flows.vocab import CaseType
from huifang.app import App
from huifang.demo_cmd import DEFAULT_START, DemoRun, run_demo
from huifang.demo_serve import DemoUser, demo_users
from huifang.simulate_cmd import simulated
from huifang.web import build_services, compose
from ivr.harness.media import SilentRenderer
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, Settings
from storage.db import make_session_factory
from storage.models import CallbackTask, Case, Policy
from tests.conftest import NOW
from tests.factories import policy_row
from tests.intake.test_service import make

PASSWORD = "correct horse 1"


@pytest.fixture
def console_app(engine: Engine, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                calendar: BusinessCalendar) -> Flask:
    """The console on a bare Flask app over the test database: branches 110100 (北京, case BJ1, user 王芳) and
    120100 (天津, case TJ1), and a supervisor 张总."""
    make(session, tmp_path, settings, clock)([
        policy_row(policy_no="BJ1", applicant_name="赵敏"),
        policy_row(policy_no="TJ1", branch_code="120100", branch_name="天津分公司", applicant_name="钱进")])
    for no, kind in (("BJ1", CaseType.DIALECT_CASE), ("TJ1", CaseType.FIRST_EXPLANATION_CASE)):
        policy = session.scalars(select(Policy).where(Policy.policy_no == no)).one()
        task = session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, kind, "language_barrier", f"{no} 待处理")],
                   now=NOW, settings=settings.cases, calendar=calendar)
    root = operator_actor("root")
    add_user(session, root, "王芳", PASSWORD, ["branch"], ["110100"], now=NOW, settings=settings.console)
    add_user(session, root, "张总", PASSWORD, ["supervisor"], [], now=NOW, settings=settings.console)
    session.commit()
    app = Flask("test-console")
    mount_console(app, ConsoleContext(settings, clock, calendar, make_session_factory(engine)), "k" * 40,
                  https=False)
    return app


@pytest.fixture
def console(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


def csrf(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> str:
    token = csrf(client, "/console/login")
    reply = client.post("/console/login", data={"username": name, "password": password, "csrf_token": token})
    return reply.headers.get("Location", "") if reply.status_code == 302 else reply.get_data(as_text=True)


def case_of(policy_no: str, engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalars(select(Case.id).join(Policy, Policy.id == Case.policy_id)
                         .where(Policy.policy_no == policy_no)).one()




# --- the real browser (pytest-playwright driving Debian's chromium; no browser download is reachable) ---

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, object]) -> dict[str, object]:
    """A branch office's screen: 1366×768, Chinese locale, Beijing time."""
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def live_console(console_app: Flask) -> Iterator[str]:
    """The console served over HTTP on a free port in a thread (the browser needs a real server)."""
    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()


@dataclass
class DemoConsole:
    """The demo's small campaign on the test database (real calls through the webhooks, real recordings, the
    cases they raised), one console user per role, and the console served over HTTP."""

    url: str
    users: dict[str, DemoUser]
    run: DemoRun


@pytest.fixture
def demo_console(db_url: str, tmp_path: Path, settings: Settings) -> Iterator[DemoConsole]:
    demo_settings = replace(
        settings, database=DatabaseSettings(url=db_url),
        speech=replace(settings.speech, prompt_cache_dir=str(tmp_path / "prompts")),
        recordings=replace(settings.recordings, root=str(tmp_path / "recordings")))
    run = run_demo(demo_settings, tmp_path, start=DEFAULT_START, policies=40, days=5, seed=1)
    served = App(settings=simulated(run.app).settings, clock=FrozenClock(run.ended_at))
    users = {u.name: u for u in demo_users(served, run.ended_at)}
    web = compose(served, build_services(served, with_asr=False, renderer=SilentRenderer()), "k" * 40)
    server = make_server("127.0.0.1", 0, web, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield DemoConsole(f"http://127.0.0.1:{server.port}", users, run)
    server.shutdown()
    thread.join()
    served.engine.dispose()
    run.app.engine.dispose()
