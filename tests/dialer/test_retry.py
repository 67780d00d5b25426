"""Retry rules end to end: the dialer places, Twilio's status callbacks (through the IVR) end the attempt,
and the next try is scheduled from the terminal status on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from dialer.loop import Dialer
from dialer.pacing import Pacer
from dialer.telephony import CallRequest
from flows.vocab import CaseType, ReasonCode, ResultClass
from kit.clock import BUSINESS_TZ
from kit.vocab import CallbackChannel, TaskStatus
from speech.cache import PromptCache
from storage.models import AuditEvent
from tests.dialer.conftest import FakeProvider, local
from tests.factories import policy_row
from tests.ivr.conftest import Ivr, build_ivr


class Campaign:
    def __init__(self, ivr: Ivr) -> None:
        self.ivr = ivr
        self.provider = FakeProvider()
        svc = ivr.svc
        self.dialer = Dialer(settings=svc.settings, clock=svc.clock, calendar=svc.calendar, sessions=svc.sessions,
                             provider=self.provider, dialer_id="d1", pacer=Pacer(0))
        self.attempt_times: list[datetime] = []

    def place(self) -> str:
        assert self.dialer.tick().placed == 1
        self.attempt_times.append(self.ivr.clock.now())
        return f"CA{len(self.provider.placed):032d}"

    def unanswered(self, status: str = "busy", **extra: str) -> None:
        sid = self.place()
        self.ivr.status(sid, "initiated")
        self.ivr.status(sid, "ringing")
        self.ivr.clock.advance(timedelta(seconds=30))
        assert self.ivr.status(sid, status, **extra).status_code == 200

    def wait_for_next(self) -> datetime:
        task = self.ivr.task()
        assert task.status is TaskStatus.QUEUED
        assert task.next_attempt_at is not None
        self.ivr.clock.set(task.next_attempt_at)
        return task.next_attempt_at.astimezone(BUSINESS_TZ)


@pytest.fixture
def campaign(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Campaign]:
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(receipt_signed_date="2026-11-20",
                                                                  receipt_logged_date="2026-11-20"), channels=None)
    with ivr.http:
        yield Campaign(ivr)


def test_busy_waits_and_moves_to_another_part_of_the_day(campaign: Campaign) -> None:
    campaign.unanswered("busy")
    assert campaign.ivr.task().attempts == 1
    assert campaign.wait_for_next() == local("2026-11-25T12:00:30")  # 10:00:30 + 2 h, the afternoon


def _three_failed_contacts(campaign: Campaign) -> datetime:
    campaign.unanswered("no-answer")
    campaign.wait_for_next()
    campaign.unanswered("busy")
    third = campaign.wait_for_next()
    campaign.unanswered("no-answer")
    assert campaign.ivr.task().attempts == 3
    times = [t.astimezone(BUSINESS_TZ) for t in campaign.attempt_times]
    assert len({t.date() for t in times}) >= 2
    assert len({campaign.dialer.rules.daypart(t) for t in times}) == 3
    assert third.date() != times[0].date() or third.date() != times[1].date()
    return third


@pytest.fixture
def phone_only(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Campaign]:
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(receipt_signed_date="2026-11-20",
                                                                  receipt_logged_date="2026-11-20"),
                    channels=(CallbackChannel.PHONE,))
    with ivr.http:
        yield Campaign(ivr)


def test_three_failed_contacts_on_two_days_make_the_applicant_unreachable(phone_only: Campaign) -> None:
    """No channel after the phone (channels.sequence = ["phone"]): the callback ends as unreachable."""
    _three_failed_contacts(phone_only)
    task = phone_only.ivr.task()
    assert (task.status, task.result_class, task.reason_codes) == (TaskStatus.COMPLETED, ResultClass.VERIFICATION,
                                                                   [ReasonCode.UNREACHABLE.value])
    cases = phone_only.ivr.cases()
    assert [(c.type, c.reason) for c in cases] == [(CaseType.VERIFICATION_CASE, "unreachable")]
    assert phone_only.dialer.tick().claimed == 0


def test_after_the_phone_attempts_the_callback_waits_for_its_e_callback_link(campaign: Campaign) -> None:
    """The default sequence (phone, ecallback, letter): the task stays open, queued on the e-callback channel
    for its SMS link; the dialer never claims it again, no case is opened, and the move is audited."""
    _three_failed_contacts(campaign)
    task = campaign.ivr.task()
    assert (task.status, task.channel, task.result_class, task.next_attempt_at) == (
        TaskStatus.QUEUED, CallbackChannel.ECALLBACK, None, None)
    assert campaign.ivr.cases() == []
    with campaign.ivr.session() as s:
        trail = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel")).all()
        assert [(e.operator, e.detail) for e in trail] == [("system", "phone → ecallback")]
        assert "3次，2天" in trail[0].reason or "3次，3天" in trail[0].reason
    campaign.ivr.clock.advance(timedelta(days=1))
    assert campaign.dialer.tick().claimed == 0


def test_a_letter_after_the_phone_closes_the_callback_and_gives_the_branch_a_letter_case(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(receipt_signed_date="2026-11-20",
                                                                  receipt_logged_date="2026-11-20"),
                    channels=(CallbackChannel.PHONE, CallbackChannel.LETTER))
    with ivr.http:
        campaign = Campaign(ivr)
        _three_failed_contacts(campaign)
        task = ivr.task()
        assert (task.status, task.channel, task.result_class) == (
            TaskStatus.COMPLETED, CallbackChannel.LETTER, ResultClass.VERIFICATION)
        assert [(c.type, c.reason) for c in ivr.cases()] == [(CaseType.LETTER_CASE, "unreachable")]
        assert "信函回访" in ivr.cases()[0].detail


def test_a_machine_is_retried(campaign: Campaign) -> None:
    sid = campaign.place()
    campaign.ivr.status(sid, "ringing")
    campaign.ivr.answer_call(sid, AnsweredBy="machine_start")
    campaign.ivr.status(sid, "completed", CallDuration="3")
    assert campaign.wait_for_next() >= local("2026-11-25T14:00:00")


def test_a_failed_call_the_network_says_does_not_exist_is_a_wrong_number(campaign: Campaign) -> None:
    campaign.unanswered("failed", SipResponseCode="404")
    task = campaign.ivr.task()
    assert task.status is TaskStatus.HELD
    assert [c.reason for c in campaign.ivr.cases()] == ["wrong_number"]


def test_a_failed_call_otherwise_is_retried_without_counting(campaign: Campaign) -> None:
    sid = campaign.place()
    campaign.ivr.status(sid, "failed", SipResponseCode="503")
    assert campaign.ivr.task().attempts == 0
    assert campaign.wait_for_next() == local("2026-11-25T11:00:00")  # it never rang: no part of the day used


def test_the_deadline_shortens_the_wait_so_one_more_try_lands_in_time(engine: Engine, tmp_path: Path,
                                                                     prompt_cache: PromptCache) -> None:
    # cooling-off ends today, 2026-11-25 (signed 11-10); a busy at 20:00 would wait past 21:00
    ivr = build_ivr(engine, tmp_path, prompt_cache,
                    row=policy_row(issue_date="2026-11-08", receipt_signed_date="2026-11-10",
                                   receipt_logged_date="2026-11-10"))
    with ivr.http:
        campaign = Campaign(ivr)
        assert ivr.task().deadline.isoformat() == "2026-11-25"
        ivr.clock.set(local("2026-11-25T20:00:00"))
        campaign.unanswered("busy")
        assert campaign.wait_for_next() == local("2026-11-25T20:30:30")


def test_hang_up_before_identity_is_retried(campaign: Campaign) -> None:
    sid = campaign.place()
    campaign.ivr.status(sid, "ringing")
    campaign.ivr.answer_call(sid)
    campaign.ivr.status(sid, "completed", CallDuration="5")
    task = campaign.ivr.task()
    assert task.status is TaskStatus.QUEUED
    assert task.next_attempt_at is not None
    assert task.next_attempt_at.astimezone(BUSINESS_TZ) >= local("2026-11-25T13:00:00")


def test_not_received_calls_again_after_the_delivery_delay(campaign: Campaign) -> None:
    sid = campaign.place()
    campaign.ivr.status(sid, "ringing")
    campaign.ivr.answer_call(sid)
    campaign.ivr.turn(sid, digits="1")
    campaign.ivr.turn(sid, digits="0517")
    for _ in range(10):  # answer yes until the contract-received question, then no
        state = campaign.ivr.call(sid).state
        assert state is not None
        step = campaign.ivr.svc.library.flows["traditional"].step(state["plan"][state["index"]])
        if str(step.topic) == "policy_received":
            break
        campaign.ivr.turn(sid, digits="1")
    campaign.ivr.turn(sid, digits="2")
    call = campaign.ivr.call(sid)
    assert call.end_reason == "not_received"
    task = campaign.ivr.task()
    assert task.status is TaskStatus.QUEUED
    assert task.next_attempt_at is not None
    assert task.next_attempt_at.astimezone(BUSINESS_TZ) == local("2026-11-28T10:00:00")
    assert [c.reason for c in campaign.ivr.cases()] == ["not_received"]


class CallbacksBeforeTheSid:
    """Twilio is fast and the REST reply slow: the call's status callbacks (initiated → ringing → no-answer)
    reach the real webhook, and are committed, before `place()` returns the CallSid to the dialer."""

    def __init__(self, ivr: Ivr) -> None:
        self.ivr = ivr
        self.placed: list[CallRequest] = []

    def place(self, request: CallRequest) -> str:
        self.placed.append(request)
        sid = f"CA{len(self.placed):032d}"
        path = request.status_url.removeprefix(self.ivr.svc.settings.ivr.public_base_url)
        for status in ("initiated", "ringing", "no-answer"):
            response = self.ivr.post(path, self.ivr.params(sid, CallStatus=status))
            assert response.status_code == 200, response.get_data(as_text=True)
        return sid


def test_callbacks_that_requeue_a_call_before_its_sid_returns_are_not_overwritten(campaign: Campaign) -> None:
    ivr = campaign.ivr
    provider = CallbacksBeforeTheSid(ivr)
    campaign.dialer.provider = provider
    assert campaign.dialer.tick().placed == 1
    task = ivr.task()
    assert task.status is TaskStatus.QUEUED  # not in_progress under a call lease
    assert task.next_attempt_at is not None
    assert task.next_attempt_at.astimezone(BUSINESS_TZ) == local("2026-11-25T14:00:00")  # no-answer: + 4 h
    assert (task.claimed_by, task.claimed_at, task.lease_expires_at) == (None, None, None)
    assert task.attempts == 1
    call = ivr.call(f"CA{1:032d}")
    assert call.twilio_status == "no-answer"
    assert call.dialled_number == provider.placed[0].to  # the dialer's own record of the call is kept
    assert campaign.dialer.tick().claimed == 0  # not due again before its retry time
