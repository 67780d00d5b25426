"""The console's test fixture (two branches with one case each, a branch user and a supervisor) and helpers to
sign in and post forms the way a browser does (with the CSRF token from the page)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from cases.service import NewCase, open_cases
from console.app import mount_console
from console.context import ConsoleContext
from flows.vocab import CaseType
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.db import make_session_factory
from storage.models import CallbackTask, Case, Policy
from tests.conftest import NOW
from tests.factories import policy_row
from tests.intake.test_service import make

PASSWORD = "correct horse 1"


@pytest.fixture
def console(engine: Engine, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
            calendar: BusinessCalendar) -> FlaskClient:
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
    return app.test_client()


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


