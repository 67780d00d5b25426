"""E-callback links, one-time codes and the job that sends links and gives up on unanswered ones; the CLI."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecallback import codes
from ecallback.jobs import decide
from ecallback.links import by_token, issue, token_hash
from flows.vocab import CaseType
from huifang.cli import cli
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallbackChannel, TaskStatus
from storage.models import AuditEvent, CallbackTask, Case, EcallbackLink, Policy, SmsMessage
from tests.factories import policy_row, write_csv
from tests.intake.test_service import make

pytestmark = pytest.mark.db


@pytest.fixture
def task(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> CallbackTask:
    make(session, tmp_path, settings, clock)([policy_row(policy_no="E1")])
    task = session.scalars(select(CallbackTask)).one()
    task.channel = CallbackChannel.ECALLBACK
    return task


def _policy(session: Session, task: CallbackTask) -> Policy:
    policy = session.get(Policy, task.policy_id)
    assert policy is not None
    return policy


def test_a_link_is_unguessable_stored_hashed_and_valid_to_the_end_of_the_deadline_day(
        session: Session, task: CallbackTask, settings: Settings, clock: FrozenClock) -> None:
    issued = issue(session, task, _policy(session, task), now=clock.now(), settings=settings)
    token = issued.url.rsplit("/", 1)[1]
    assert len(token) == 32  # 24 random bytes
    assert issued.url == f"http://127.0.0.1:8080/e/{token}"
    link = session.scalars(select(EcallbackLink)).one()
    assert link.token_hash == token_hash(token) != token
    assert link.expires_at == datetime(2026, 12, 2, tzinfo=BUSINESS_TZ)  # the end of the deadline day, 12-01
    message = session.get(SmsMessage, issued.message_id)
    assert message is not None
    policy = _policy(session, task)
    assert (message.to_number, message.purpose, message.status) == (policy.applicant_phone, "link", "pending")
    assert issued.url in message.body
    assert "2026-12-01 23:59" in message.body
    assert by_token(session, token) is link
    assert by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    again = issue(session, task, _policy(session, task), now=clock.now(), settings=settings)
    assert (link.closed_reason, again.link.closed_at) == ("replaced", None)


def test_codes_expire_wait_between_sends_and_lock_the_link_after_five_wrong(
        session: Session, task: CallbackTask, settings: Settings, clock: FrozenClock) -> None:
    link = issue(session, task, _policy(session, task), now=clock.now(), settings=settings).link
    message_id = codes.request_code(session, link, _policy(session, task), now=clock.now(), settings=settings)
    message = session.get(SmsMessage, message_id)
    assert message is not None
    code = re.search(r"验证码为(\d{6})", message.body)
    assert code is not None
    assert link.code_hash is not None
    assert code[1] not in (link.code_hash, link.code_salt)
    with pytest.raises(codes.CodeRefused, match="秒后再试"):
        codes.request_code(session, link, _policy(session, task), now=clock.now(), settings=settings)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(codes.CodeRefused, match="已过期"):
        codes.check_code(link, code[1], now=clock.now(), settings=settings)
    message_id = codes.request_code(session, link, _policy(session, task), now=clock.now(), settings=settings)
    fresh = re.search(r"\d{6}", session.get(SmsMessage, message_id).body)  # type: ignore[union-attr]
    assert fresh is not None
    wrong = "000000" if fresh[0] != "000000" else "111111"
    with pytest.raises(codes.CodeRefused, match="请输入"):
        codes.check_code(link, " ", now=clock.now(), settings=settings)
    assert link.wrong_codes == 0
    for left in (4, 3, 2, 1):
        with pytest.raises(codes.CodeRefused, match=f"还可以再试{left}次"):
            codes.check_code(link, wrong, now=clock.now(), settings=settings)
    with pytest.raises(codes.CodeRefused, match="已锁定"):
        codes.check_code(link, wrong, now=clock.now(), settings=settings)
    assert link.locked_at is not None
    with pytest.raises(codes.CodeRefused, match="已锁定"):
        codes.check_code(link, fresh[0], now=clock.now(), settings=settings)  # even the right one, now


def test_a_right_code_verifies_the_link_once(session: Session, task: CallbackTask, settings: Settings,
                                             clock: FrozenClock) -> None:
    link = issue(session, task, _policy(session, task), now=clock.now(), settings=settings).link
    body = session.get(SmsMessage, codes.request_code(session, link, _policy(session, task), now=clock.now(),
                                                       settings=settings)).body  # type: ignore[union-attr]
    found = re.search(r"\d{6}", body)
    assert found is not None
    codes.check_code(link, found[0], now=clock.now(), settings=settings)
    assert (link.verified_at, link.code_hash, link.wrong_codes) == (clock.now(), None, 0)


def test_the_job_sends_one_link_then_moves_an_unanswered_callback_on(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar,
        clock: FrozenClock) -> None:
    report = decide(session, settings=settings, calendar=calendar, clock=clock)
    assert report.links_sent == ["E1"]
    assert decide(session, settings=settings, calendar=calendar, clock=clock).links_sent == []
    clock.advance(timedelta(days=2))  # Wed 25th → Fri 27th: 2 working days
    assert decide(session, settings=settings, calendar=calendar, clock=clock).fell_through == {}
    clock.advance(timedelta(days=3))  # Mon 30th: the 3rd working day
    report = decide(session, settings=settings, calendar=calendar, clock=clock)
    assert report.fell_through == {"E1": "letter"}
    assert (task.channel, task.status, task.result_class) == (
        CallbackChannel.LETTER, TaskStatus.COMPLETED, "verification")
    assert session.scalars(select(EcallbackLink)).one().closed_reason == "unanswered"
    assert [c.type for c in session.scalars(select(Case))] == [CaseType.LETTER_CASE]


def test_an_expired_link_with_no_channel_left_closes_the_callback_as_unreachable(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar,
        clock: FrozenClock) -> None:
    import dataclasses

    settings = dataclasses.replace(settings, channels=dataclasses.replace(
        settings.channels, sequence=(CallbackChannel.PHONE, CallbackChannel.ECALLBACK), ecallback_wait_days=10))
    decide(session, settings=settings, calendar=calendar, clock=clock)
    clock.advance(timedelta(days=7))  # past the deadline day (12-01)
    report = decide(session, settings=settings, calendar=calendar, clock=clock)
    assert report.fell_through == {"E1": "unreachable"}
    assert (task.status, task.result_class, task.reason_codes) == (TaskStatus.COMPLETED, "verification",
                                                                   ["unreachable"])
    assert session.scalars(select(EcallbackLink)).one().closed_reason == "expired"
    assert [c.type for c in session.scalars(select(Case))] == [CaseType.VERIFICATION_CASE]


def test_cli_send_moves_the_callback_sends_the_link_and_the_outbox_shows_it(db_url: str, tmp_path: Path,
                                                                            session: Session) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "王主管"}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    csv = write_csv(tmp_path / "p.csv", [policy_row(policy_no="C1")])
    assert runner.invoke(cli, ["import", str(csv)], env=env).exit_code == 0
    sent = runner.invoke(cli, ["ecallback", "send", "--policy", "C1", "--json"], env=env, catch_exceptions=False)
    assert sent.exit_code == 0, sent.stderr
    out = json.loads(sent.stdout)
    assert set(out) >= {"policy_no", "link", "expires_at", "message_sid"}
    assert (out["policy_no"], out["expires_at"]) == ("C1", "2026-12-02T00:00:00+08:00")
    assert out["message_sid"].startswith("SM")
    phone = session.scalars(select(Policy)).one().applicant_phone
    session.rollback()  # no read transaction left open beside the CLI's (SQLite)
    box = runner.invoke(cli, ["sms", "outbox", "--to", phone, "--json"], env=env)
    assert box.exit_code == 0, box.stderr
    entries = json.loads(box.stdout)
    assert [set(e) for e in entries] == [{"to", "body", "sent_at"}]
    assert out["link"] in entries[0]["body"]
    assert json.loads(runner.invoke(cli, ["sms", "outbox", "--to", "+8613900000000", "--json"], env=env).stdout) == []
    task = session.scalars(select(CallbackTask)).one()
    assert task.channel is CallbackChannel.ECALLBACK
    actions = [(a.operator, a.action) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == [("王主管", "channel"), ("王主管", "ecallback_link")]
    session.rollback()
    missing = runner.invoke(cli, ["ecallback", "send", "--policy", "NOPE"], env=env)
    assert missing.exit_code == 1
    assert "no callback for policy NOPE" in missing.stderr


def test_the_job_does_not_starve_behind_tasks_whose_links_are_waiting(
        session: Session, tmp_path: Path, settings: Settings, calendar: BusinessCalendar,
        clock: FrozenClock) -> None:
    make(session, tmp_path, settings, clock)([policy_row(policy_no=f"S{n}") for n in range(3)])
    for task in session.scalars(select(CallbackTask)):
        task.channel = CallbackChannel.ECALLBACK
    assert decide(session, settings=settings, calendar=calendar, clock=clock, limit=2).links_sent == ["S0", "S1"]
    assert decide(session, settings=settings, calendar=calendar, clock=clock, limit=2).links_sent == ["S2"]


def test_the_tick_sends_links_through_the_outbox_and_is_a_dialer_job(db_url: str, tmp_path: Path,
                                                                     session: Session) -> None:
    from huifang import dialer_cmd

    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00"}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    csv = write_csv(tmp_path / "p.csv", [policy_row(policy_no="K1"), policy_row(policy_no="K2")])
    assert runner.invoke(cli, ["import", str(csv)], env=env).exit_code == 0
    k1 = session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == "K1")).one()
    k1.channel = CallbackChannel.ECALLBACK
    session.commit()
    ticked = runner.invoke(cli, ["ecallback", "tick", "--json"], env=env, catch_exceptions=False)
    assert json.loads(ticked.stdout) == {"links_sent": ["K1"], "fell_through": {}, "refused": {},
                                         "messages": {"sent": 1, "pending": 0, "failed": 0}}
    entries = json.loads(runner.invoke(cli, ["sms", "outbox", "--json"], env=env).stdout)
    assert len(entries) == 1
    assert "K1" in entries[0]["body"]
    assert "/e/" in entries[0]["body"]
    assert "ecallback" in dialer_cmd.JOBS
