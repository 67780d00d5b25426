"""`huifang notifications prune [--dry-run] [--json]` and the dialer's daily `prune` job: the outbox's old delivered
events and the API's expired Idempotency-Key answers deleted, dead letters and undelivered events kept, audited."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.keys import add_key
from huifang import dialer_cmd
from huifang.app import App
from huifang.cli import cli
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, NotificationSettings, Settings
from storage.jobs import Skipped
from storage.models import ApiIdempotency, ApiKey, AuditEvent, IntegrationEvent, JobRun
from tests.conftest import NOW
from tests.integration.test_retention import NEW, OLD, _event
from tests.notifications.receiver import SECRET


def _world(session: Session) -> None:
    """Past the 90-day window: two delivered events, a dead letter, one not delivered; inside it: one delivered.
    Two kept API answers, one 25 hours old and one 23."""
    _event(session, "GONE1", at=OLD)
    _event(session, "DEAD", at=OLD, state="dead")
    _event(session, "WAITING", at=OLD, state="pending")
    _event(session, "GONE2", at=OLD - timedelta(days=10), type="case.closed")
    _event(session, "NEW", at=NEW)
    add_key(session, "core", ["policies:write"], by="test", now=NOW - timedelta(days=2))
    key_id = session.scalars(select(ApiKey.id)).one()
    for name, age in (("old-key", 25), ("new-key", 23)):
        session.add(ApiIdempotency(api_key_id=key_id, idempotency_key=name, request_sha256="0" * 64,
                                   route="POST /api/v1/policies", status=200, response={}, created_at=NOW -
                                   timedelta(hours=age)))
    session.commit()


def _env(db_url: str, endpoint: str = "https://core.example.com/hook") -> dict[str, str]:
    return {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": NOW.isoformat(), "HUIFANG_OPERATOR": "运维李",
            "HUIFANG__NOTIFICATIONS__ENDPOINT": f'"{endpoint}"', "HUIFANG_NOTIFICATIONS_SECRET": SECRET}


def _left(session: Session) -> tuple[list[str], list[str]]:
    left = (list(session.scalars(select(IntegrationEvent.policy_no).order_by(IntegrationEvent.id))),
            list(session.scalars(select(ApiIdempotency.idempotency_key).order_by(ApiIdempotency.id))))
    session.commit()  # SQLite: a transaction holds the write lock (storage.db); the next command needs it
    return left


def _audit(session: Session) -> list[tuple[str, str, str]]:
    lines = [(a.operator, a.target, a.detail) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
             if a.action == "retention_prune"]
    session.commit()
    return lines


def test_dry_run_counts_then_prune_deletes_and_says_what_it_kept(db_url: str, session: Session) -> None:
    _world(session)
    runner = CliRunner()
    dry = runner.invoke(cli, ["notifications", "prune", "--dry-run", "--json"], env=_env(db_url))
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {
        "dry_run": True, "events_deleted": 2, "events_kept_dead": 1, "events_kept_undelivered": 1,
        "answers_deleted": 1, "events_before": "2026-08-27T10:00:00+08:00",
        "answers_before": "2026-11-24T10:00:00+08:00"}
    assert _left(session) == (["GONE1", "DEAD", "WAITING", "GONE2", "NEW"], ["old-key", "new-key"])
    text = runner.invoke(cli, ["notifications", "prune", "--dry-run"], env=_env(db_url))
    assert text.exit_code == 0, (text.output, text.exception)
    assert text.stdout.splitlines() == [
        "events: 2 would be deleted (created before 2026-08-27T10:00:00+08:00; kept: 1 dead letters, 1 not "
        "delivered yet)",
        "API answers: 1 would be deleted (kept before 2026-11-24T10:00:00+08:00)"]
    assert _audit(session) == []

    done = runner.invoke(cli, ["notifications", "prune", "--json"], env=_env(db_url))
    assert done.exit_code == 0, done.output
    assert {k: v for k, v in json.loads(done.stdout).items() if k.startswith(("events_", "answers_deleted"))} == {
        "events_deleted": 2, "events_kept_dead": 1, "events_kept_undelivered": 1, "answers_deleted": 1,
        "events_before": "2026-08-27T10:00:00+08:00"}
    assert _left(session) == (["DEAD", "WAITING", "NEW"], ["new-key"])
    assert _audit(session) == [("运维李", "integration_events, api_idempotency", "events=2 answers=1")]
    again = runner.invoke(cli, ["notifications", "prune"], env=_env(db_url))
    assert again.stdout.splitlines()[0].startswith("events: 0 deleted")
    assert len(_audit(session)) == 1  # nothing deleted, nothing audited


def test_with_no_endpoint_prune_deletes_old_events_never_sent_but_not_dead_letters(db_url: str,
                                                                                  session: Session) -> None:
    _world(session)
    done = CliRunner().invoke(cli, ["notifications", "prune", "--json"], env=_env(db_url, endpoint=""))
    assert done.exit_code == 0, done.output
    counts = json.loads(done.stdout)
    assert (counts["events_deleted"], counts["events_kept_dead"], counts["events_kept_undelivered"]) == (3, 1, 0)
    assert _left(session)[0] == ["DEAD", "NEW"]


def test_the_dialer_runs_prune_once_a_day_as_the_system(engine: Engine, db_url: str, session: Session) -> None:
    _world(session)
    settings = dataclasses.replace(Settings(), database=DatabaseSettings(url=db_url),
                                   notifications=NotificationSettings(endpoint="https://core.example.com/hook",
                                                                      secret=SECRET, prune_batch_size=1))
    app = App(settings=settings, clock=FrozenClock(NOW))
    job = dialer_cmd.JOBS["prune"]
    assert job.enabled(app)
    assert job.every(app) == timedelta(hours=1)  # looked at hourly: a dialer restarted daily still runs it ...
    assert job.min_gap(app) == timedelta(hours=19, minutes=12)  # ... but it runs once a day
    try:
        first = dialer_cmd.run_job(app, "prune")
        assert first.ran
        assert isinstance(first.result, dict)
        assert (first.result["events_deleted"], first.result["answers_deleted"]) == (2, 1)  # in batches of 1
        second = dialer_cmd.run_job(app, "prune")
        assert (second.ran, second.skipped) == (False, Skipped.RECENT)
    finally:
        app.close()
    assert _left(session) == (["DEAD", "WAITING", "NEW"], ["new-key"])
    assert _audit(session) == [("system", "integration_events, api_idempotency", "events=2 answers=1")]
    assert session.get(JobRun, "prune") is not None
