"""SMS: Twilio Messaging's request, the simulated outbox, and a queue that sends outside any transaction and
never loses a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kit.clock import FrozenClock
from kit.settings import Settings, SmsSettings, TwilioSettings
from messaging.queue import Outbound, enqueue
from messaging.senders import OutboxSender, SendFailed, TwilioSender, outbox
from storage.db import make_session_factory, unit_of_work
from storage.models import SmsMessage
from tests.conftest import NOW

ACCOUNT = "AC" + "1" * 32
TO = "+8613700000001"


def _twilio(**sms: str) -> TwilioSender:
    settings = Settings(twilio=TwilioSettings(account_sid=ACCOUNT, auth_token="tok",
                                              api_base_url="https://twilio.test/"),
                        sms=SmsSettings(provider="twilio", **sms))  # type: ignore[arg-type]
    return TwilioSender.from_settings(settings)


@responses.activate
def test_twilio_messaging_posts_to_from_and_body_on_the_configured_api() -> None:
    url = f"https://twilio.test/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    responses.add(responses.POST, url, json={"sid": "SM" + "a" * 32, "status": "queued"}, status=201)
    assert _twilio(from_number="+8610955000").send(TO, "您好") == "SM" + "a" * 32
    sent = responses.calls[0].request
    assert parse_qs(str(sent.body)) == {"To": [TO], "From": ["+8610955000"], "Body": ["您好"]}
    assert sent.headers["Authorization"].startswith("Basic ")
    responses.add(responses.POST, url, json={"sid": "SM" + "b" * 32}, status=201)
    _twilio(messaging_service_sid="MG" + "c" * 32).send(TO, "x")
    assert parse_qs(str(responses.calls[1].request.body))["MessagingServiceSid"] == ["MG" + "c" * 32]
    assert "From" not in parse_qs(str(responses.calls[1].request.body))


@responses.activate
@pytest.mark.parametrize(("status", "permanent"), [(400, True), (429, False), (503, False)])
def test_a_refused_message_says_whether_trying_again_helps(status: int, permanent: bool) -> None:
    url = f"https://twilio.test/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    responses.add(responses.POST, url, json={"code": 21211, "message": "Invalid 'To' Phone Number"}, status=status)
    with pytest.raises(SendFailed, match=f"HTTP {status}") as refused:
        _twilio(from_number="+8610955000").send(TO, "x")
    assert refused.value.permanent is permanent


def test_twilio_messaging_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="sms.from_number"):
        _twilio()


@dataclass
class Flaky:
    """Fails the first `failures` sends; checks each send sees its claim committed (no transaction held)."""

    engine: Engine
    failures: int = 0
    sent: list[str] = field(default_factory=list)
    permanent: bool = False

    def send(self, to: str, body: str) -> str:
        with Session(self.engine) as other:
            row = other.scalars(select(SmsMessage).where(SmsMessage.body == body)).one()
            assert row.claimed_by is not None  # the claim was committed before the send
        if self.failures:
            self.failures -= 1
            raise SendFailed("provider down", permanent=self.permanent)
        self.sent.append(body)
        return f"SM{len(self.sent):032d}"


@pytest.mark.db
def test_a_failed_send_is_tried_again_later_and_sent_once(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    clock = FrozenClock(NOW)
    flaky = Flaky(engine, failures=2)
    out = Outbound(sessions, flaky, clock, SmsSettings(retry_seconds=60, max_attempts=5))
    with unit_of_work(sessions) as s:
        message_id = enqueue(s, to=TO, body="链接", purpose="link", now=clock.now()).id
        s.commit()
    assert [o.status for o in out.deliver()] == ["pending"]
    assert out.deliver() == []  # not due yet: 60 s
    clock.advance(timedelta(seconds=61))
    assert [o.status for o in out.deliver()] == ["pending"]
    clock.advance(timedelta(seconds=61))
    assert out.deliver() == []  # the second wait is doubled
    clock.advance(timedelta(seconds=60))
    assert [(o.status, o.provider_sid) for o in out.deliver()] == [("sent", "SM" + "0" * 31 + "1")]
    assert out.deliver() == []
    assert out.send_now(message_id).status == "sent"
    assert flaky.sent == ["链接"]
    with unit_of_work(sessions) as s:
        row = s.get(SmsMessage, message_id)
        assert row is not None
        assert (row.attempts, row.sent_at, row.claimed_by, row.last_error) == (3, clock.now(), None, "provider down")


@pytest.mark.db
def test_a_permanent_refusal_or_the_last_attempt_marks_the_message_failed(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    clock = FrozenClock(NOW)
    out = Outbound(sessions, Flaky(engine, failures=1, permanent=True), clock, SmsSettings())
    with unit_of_work(sessions) as s:
        message_id = enqueue(s, to=TO, body="x", purpose="code", now=clock.now()).id
        s.commit()
    assert out.send_now(message_id).status == "failed"
    out = Outbound(sessions, Flaky(engine, failures=9), clock, SmsSettings(max_attempts=2, retry_seconds=1))
    with unit_of_work(sessions) as s:
        enqueue(s, to=TO, body="y", purpose="code", now=clock.now())
        s.commit()
    assert [o.status for o in out.deliver()] == ["pending"]
    clock.advance(timedelta(seconds=5))
    assert [o.status for o in out.deliver()] == ["failed"]


@pytest.mark.db
def test_a_claim_left_by_a_dead_sender_is_taken_over_after_it_runs_out(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    clock = FrozenClock(NOW)
    flaky = Flaky(engine)
    out = Outbound(sessions, flaky, clock, SmsSettings(claim_seconds=120))
    with unit_of_work(sessions) as s:
        enqueue(s, to=TO, body="z", purpose="link", now=clock.now())
        s.commit()
    assert len(out._claim(None, 10)) == 1  # a sender claims it, then dies
    assert out.deliver() == []
    clock.advance(timedelta(seconds=121))
    assert [o.status for o in out.deliver()] == ["sent"]


@pytest.mark.db
def test_the_simulated_provider_keeps_what_it_sent(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    sender = OutboxSender(sessions, FrozenClock(NOW))
    assert sender.send(TO, "一").startswith("SM")
    sender.send("+8613900000002", "二")
    with unit_of_work(sessions) as s:
        assert [(e.to, e.body, e.sent_at) for e in outbox(s, TO)] == [(TO, "一", NOW)]
        assert len(outbox(s)) == 2
