"""The sender: signed POSTs to a real local receiver, back-off and dead letters on a virtual clock, resend."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from huifang.cli import cli
from kit.clock import FrozenClock
from kit.settings import NotificationSettings, Settings
from notifications.outbox import backoff
from notifications.sender import Sender
from storage.db import make_session_factory
from storage.models import AuditEvent, IntegrationEvent
from tasks.lifecycle import TaskEvent, apply
from tests.integration.world import events, import_policies, task_of
from tests.notifications.receiver import SECRET, Receiver, running


def _settings(url: str, **overrides: object) -> NotificationSettings:
    return dataclasses.replace(NotificationSettings(endpoint=url, secret=SECRET), **overrides)  # type: ignore[arg-type]


def _results(session: Session, clock: FrozenClock, numbers: list[str]) -> None:
    for no in numbers:
        apply(task_of(session, no), TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.PROBLEM,
              reason_codes=["thought_deposit"])
    session.commit()


def test_each_event_is_posted_signed_and_marked_delivered(engine: Engine, session: Session, tmp_path: Path,
                                                          settings: Settings, clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["S1", "S2", "S3"])
    _results(session, clock, ["S1", "S2", "S3"])
    with running(Receiver()) as receiver:
        sender = Sender(make_session_factory(engine), clock, _settings(receiver.url, batch_size=2))
        assert sender.send_due() == {"claimed": 3, "delivered": 3, "failed": 0, "released": 0}
        assert sender.send_due()["claimed"] == 0  # delivered events are not sent again
    assert receiver.bad_signatures == []  # checked by the receiver's own HMAC code
    assert sorted(receiver.counts.values()) == [1, 1, 1]
    session.expire_all()
    for event in events(session):
        assert (event.delivered_at, event.attempts, event.claimed_by) == (clock.now(), 1, None)
        sent = receiver.bodies[event.event_id]
        assert sent == {"event_id": event.event_id, "type": "task.result", "policy_no": event.policy_no,
                        "occurred_at": "2026-11-25T10:00:00+08:00", "data": event.payload}


def test_a_wrong_secret_is_caught_by_the_receiver(engine: Engine, session: Session, tmp_path: Path,
                                                  settings: Settings, clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["W1"])
    _results(session, clock, ["W1"])
    with running(Receiver()) as receiver:
        sender = Sender(make_session_factory(engine), clock,
                        _settings(receiver.url, secret="another-secret-0123456789"))
        assert sender.send_due()["failed"] == 1  # the receiver answered 401: not delivered, tried again later
    assert len(receiver.bad_signatures) == 1
    session.expire_all()
    [event] = events(session)
    assert event.delivered_at is None
    assert event.last_error == "HTTP 401"


def _env(db_url: str, clock: FrozenClock, endpoint: str = "") -> dict[str, str]:
    return {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": clock.now().isoformat(),
            "HUIFANG__NOTIFICATIONS__ENDPOINT": f'"{endpoint}"', "HUIFANG_NOTIFICATIONS_SECRET": SECRET}


def test_failures_back_off_until_max_age_then_the_event_is_dead(engine: Engine, db_url: str, session: Session,
                                                                tmp_path: Path, settings: Settings,
                                                                clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["D1"])
    _results(session, clock, ["D1"])
    changed_at = clock.now()
    calls: list[float] = []

    def failing(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        calls.append((clock.now() - changed_at).total_seconds())
        return 503

    config = _settings("http://core.invalid/hook")
    sender = Sender(make_session_factory(engine), clock, config, post=failing)
    for _ in range(200):  # the virtual day: each try when it falls due, and nothing in between
        sender.send_due()
        event = session.scalars(select(IntegrationEvent)).one()
        session.refresh(event)
        session.commit()  # SQLite: the sender needs the write lock
        if event.dead_at is not None:
            break
        assert event.next_attempt_at is not None
        clock.advance(timedelta(seconds=1))
        assert sender.send_due()["claimed"] == 0  # not due yet
        clock.set(event.next_attempt_at)
    waits = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]  # doubled from 30 s, at most an hour
    assert calls[-1] == 24 * 3600  # the last try at the max age, then dead
    assert (event.dead_at, event.attempts, event.last_error) == (clock.now(), len(calls), "HTTP 503")
    assert backoff(config, 1) == timedelta(seconds=30)

    runner = CliRunner()
    env = _env(db_url, clock)
    listed = runner.invoke(cli, ["notifications", "list", "--dead", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["event_id"], row["status"], row["policy_no"]) == (event.event_id, "dead", "D1")

    event_id = event.event_id
    resent = runner.invoke(cli, ["notifications", "resend", event_id, "--json"], env=env)
    assert resent.exit_code == 0, resent.output
    assert json.loads(resent.output) == {"resent": [event_id]}
    session.expire_all()
    assert session.scalars(select(AuditEvent.action)).all() == ["notify_resend"]
    session.commit()
    with running(Receiver()) as receiver:
        delivered = Sender(make_session_factory(engine), clock, _settings(receiver.url)).send_due()
    assert delivered["delivered"] == 1
    assert receiver.counts == {event_id: 1}
    again = runner.invoke(cli, ["notifications", "resend", "no-such-event"], env=env)
    assert again.exit_code == 1
    assert "no event no-such-event" in again.output


def test_without_an_endpoint_nothing_is_sent_and_events_wait(engine: Engine, db_url: str, session: Session,
                                                             tmp_path: Path, settings: Settings,
                                                             clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["N1"])
    _results(session, clock, ["N1"])
    sender = Sender(make_session_factory(engine), clock, NotificationSettings())
    assert sender.send_due() == {"claimed": 0, "delivered": 0, "failed": 0, "released": 0}
    env = _env(db_url, clock)
    result = CliRunner().invoke(cli, ["notifications", "send", "--once"], env=env)
    assert result.exit_code == 1
    assert "notifications.endpoint is not set" in result.output
    listed = CliRunner().invoke(cli, ["notifications", "list", "--json"], env=env)
    assert [r["status"] for r in json.loads(listed.output)] == ["pending"]


@pytest.mark.parametrize("status", [200, 204])
def test_any_2xx_is_delivered(engine: Engine, session: Session, tmp_path: Path, settings: Settings,
                              clock: FrozenClock, status: int) -> None:
    import_policies(session, tmp_path, settings, clock, ["A1"])
    _results(session, clock, ["A1"])
    sender = Sender(make_session_factory(engine), clock, _settings("http://x.invalid/"),
                    post=lambda url, body, headers, timeout: status)
    assert sender.send_due()["delivered"] == 1
