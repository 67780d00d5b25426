"""The dead letters page: a supervisor sees the notifications the sender gave up on and sends one again."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, IntegrationEvent
from tests.conftest import NOW
from tests.console.conftest import csrf, login


def _kill_one(engine: Engine) -> str:
    """The fixture's cases opened with events; the first one given up on by the sender."""
    with Session(engine) as s:
        event = s.scalars(select(IntegrationEvent).order_by(IntegrationEvent.id)).first()
        assert event is not None
        event.dead_at, event.attempts, event.last_error = NOW + timedelta(hours=24), 17, "HTTP 503"
        s.commit()
        return event.event_id


def test_a_dead_letter_is_shown_and_sent_again(console: FlaskClient, engine: Engine) -> None:
    event_id = _kill_one(engine)
    login(console, "张总")
    page = console.get("/console/notifications").get_data(as_text=True)
    assert 'href="/console/notifications">结果通知</a>' in page  # in the supervisor's nav
    assert event_id in page
    assert "HTTP 503" in page
    assert "未配置" in page  # no endpoint in the test settings
    reply = console.post("/console/notifications/resend",
                         data={"event": event_id, "csrf_token": csrf(console, "/console/notifications")})
    assert (reply.status_code, reply.headers["Location"]) == (302, "/console/notifications")
    page = console.get("/console/notifications").get_data(as_text=True)
    assert f"已重新发送：{event_id}" in page
    assert "没有死信" in page
    with Session(engine) as s:
        event = s.scalars(select(IntegrationEvent).where(IntegrationEvent.event_id == event_id)).one()
        assert (event.dead_at, event.attempts, event.resent_at) == (None, 0, NOW)
        audit = [(a.operator, a.action, a.target) for a in s.scalars(select(AuditEvent))
                 if a.action == "notify_resend"]
    assert audit == [("张总", "notify_resend", event_id)]


def test_a_resend_without_the_token_or_of_a_pending_event_is_refused(console: FlaskClient, engine: Engine) -> None:
    login(console, "张总")
    with Session(engine) as s:
        pending = s.scalars(select(IntegrationEvent.event_id)).first()
    assert console.post("/console/notifications/resend", data={"event": pending}).status_code == 400  # no CSRF
    reply = console.post("/console/notifications/resend",
                         data={"event": pending, "csrf_token": csrf(console, "/console/notifications")})
    assert reply.status_code == 422
    assert "正在发送中" in reply.get_data(as_text=True)
    login(console, "王芳")
    assert console.get("/console/notifications").status_code == 403  # not a branch user's desk
