"""An app with the API mounted on a migrated database (SQLite and PostgreSQL), keys, and a client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.keys import SCOPES, add_key, revoke_key
from api.routes import ApiContext, mount_api
from flows.vocab import ResultClass
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import ApiSettings, Settings
from storage.db import make_session_factory
from storage.models import ApiIdempotency, AuditEvent, CallbackTask, Policy
from tasks.lifecycle import TaskEvent, apply
from tests.factories import policy_row


def record(**overrides: Any) -> dict[str, Any]:
    """A valid API record (the file's row, empty cells left out)."""
    row: dict[str, Any] = {k: v for k, v in policy_row().items() if v != ""}
    row.update(overrides)
    return row


def complete(world: ApiWorld, policy_no: str, result: ResultClass = ResultClass.STANDARD,
             reasons: tuple[str, ...] = ()) -> None:
    """The task of `policy_no` gets its result, as a call's end gives it (tasks.lifecycle: the outbox records it)."""
    with world.sessions() as session:
        task = session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()
        apply(task, TaskEvent.COMPLETE, world.clock.now(), result_class=result, reason_codes=list(reasons))
        session.commit()


@dataclass
class ApiWorld:
    app: Flask
    client: FlaskClient
    sessions: sessionmaker[Session]
    clock: FrozenClock

    def key(self, name: str = "core", scopes: tuple[str, ...] = SCOPES) -> str:
        with self.sessions() as session:
            made = add_key(session, name, list(scopes), by="test", now=self.clock.now())
            session.commit()
        return str(made["key"])

    def revoke(self, name: str) -> None:
        with self.sessions() as session:
            revoke_key(session, name, by="test", now=self.clock.now())
            session.commit()

    def post(self, key: str, body: Any, *, idempotency_key: str | None = None, raw: bytes | None = None,
             content_type: str = "application/json") -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        import json

        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        return self.client.post("/api/v1/policies", data=data, headers=headers, content_type=content_type)

    def get(self, key: str | None, path: str) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(path, headers=headers)

    def count(self, model: type) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def counts(self) -> dict[str, int]:
        """What a refused call must not change (the audit trail aside)."""
        return {m.__name__: self.count(m) for m in (Policy, CallbackTask, ApiIdempotency)}

    def audit_lines(self) -> list[AuditEvent]:
        with self.sessions() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "api_call")
                                        .order_by(AuditEvent.id)))


@pytest.fixture
def make_world(engine: Engine, clock: FrozenClock, settings: Settings,
               calendar: BusinessCalendar) -> Callable[..., ApiWorld]:
    def build(**api: Any) -> ApiWorld:
        configured = replace(settings, api=replace(ApiSettings(), **api))
        app = Flask("test-api")
        sessions = make_session_factory(engine)
        mount_api(app, ApiContext(configured, clock, calendar, sessions))
        return ApiWorld(app, app.test_client(), sessions, clock)

    return build


@pytest.fixture
def world(make_world: Callable[..., ApiWorld]) -> ApiWorld:
    return make_world()
