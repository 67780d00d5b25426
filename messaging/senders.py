"""Who delivers a text message: Twilio Messaging, or a simulated provider that keeps what it "sent" in an
outbox table (the demo, the harness; `huifang sms outbox`). A sender is called with no transaction open."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kit.clock import Clock
from kit.settings import Settings
from storage.db import unit_of_work
from storage.models import SmsOutbox


class SendFailed(Exception):
    """The provider did not take the message; `permanent`: trying again will not help (a bad number)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsSender(Protocol):
    def send(self, to: str, body: str) -> str:
        """Deliver `body` to `to` (E.164); the provider's message id. Raises SendFailed."""


@dataclass
class TwilioSender:
    """Twilio Messaging: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with To, From (or
    MessagingServiceSid) and Body, on twilio.api_base_url."""

    account_sid: str
    auth_token: str
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base_url: str = "https://api.twilio.com"
    timeout_s: float = 10.0
    http: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSender:
        tw, sms = settings.twilio, settings.sms
        if not (sms.from_number or sms.messaging_service_sid):
            raise ValueError("sms.from_number or sms.messaging_service_sid: Twilio Messaging needs a sender")
        return cls(tw.account_sid, tw.auth_token, sms.from_number, sms.messaging_service_sid,
                   tw.api_base_url.rstrip("/"))

    @property
    def url(self) -> str:
        return f"{self.api_base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send(self, to: str, body: str) -> str:
        form = {"To": to, "Body": body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_number
        try:
            reply = self.http.post(self.url, data=form, auth=(self.account_sid, self.auth_token),
                                   timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise SendFailed(f"Twilio Messaging unreachable: {type(exc).__name__}") from exc
        if reply.status_code in (200, 201):
            sid = reply.json().get("sid")
            if isinstance(sid, str) and sid:
                return sid
            raise SendFailed("Twilio Messaging answered without a message sid")
        try:
            error = reply.json()
        except ValueError:
            error = {}
        # 4xx but 429: the request itself is wrong (a bad number, an unverified sender): trying again won't help
        permanent = 400 <= reply.status_code < 500 and reply.status_code != 429
        raise SendFailed(f"Twilio Messaging refused the message: HTTP {reply.status_code} "
                         f"{error.get('code', '')} {error.get('message', '')}".strip(), permanent=permanent)


@dataclass
class OutboxSender:
    """The simulated provider: each message it "sends" is a row of sms_outbox (its own transaction)."""

    sessions: sessionmaker[Session]
    clock: Clock

    def send(self, to: str, body: str) -> str:
        sid = "SM" + secrets.token_hex(16)
        with unit_of_work(self.sessions) as session:
            session.add(SmsOutbox(message_sid=sid, to_number=to, body=body, sent_at=self.clock.now()))
            session.commit()
        return sid


@dataclass(frozen=True)
class OutboxEntry:
    to: str
    body: str
    sent_at: datetime


def outbox(session: Session, to: str | None = None) -> list[OutboxEntry]:
    """What the simulated provider sent, oldest first (to one number)."""
    stmt = select(SmsOutbox).order_by(SmsOutbox.id)
    if to:
        stmt = stmt.where(SmsOutbox.to_number == to)
    return [OutboxEntry(row.to_number, row.body, row.sent_at) for row in session.scalars(stmt)]


def build_sender(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> SmsSender:
    if settings.sms.provider == "twilio":
        return TwilioSender.from_settings(settings)
    return OutboxSender(sessions, clock)
