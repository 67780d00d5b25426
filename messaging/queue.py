"""The SMS queue. A message is queued inside the caller's transaction (with whatever it is about: a link, a
code); sending happens after that commit: claimed in one short transaction, sent with no transaction open,
recorded in another. A send that fails is tried again later (sms.retry_seconds, doubled each try) until
sms.max_attempts; a sender that died holding a claim is taken over once its claim runs out. Never lost."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from kit.clock import Clock
from kit.settings import SmsSettings
from messaging.senders import SendFailed, SmsSender
from storage.db import unit_of_work
from storage.models import SmsMessage

PENDING, SENT, FAILED = "pending", "sent", "failed"


def enqueue(session: Session, *, to: str, body: str, purpose: str, now: datetime,
            task_id: int | None = None) -> SmsMessage:
    """A message to send after the caller's commit (flushed, not committed)."""
    message = SmsMessage(to_number=to, body=body, purpose=purpose, task_id=task_id, status=PENDING, attempts=0,
                         next_try_at=now, created_at=now, updated_at=now)
    session.add(message)
    session.flush()
    return message


@dataclass(frozen=True)
class Outcome:
    message_id: int
    status: str  # sent | pending (to be tried again) | failed
    provider_sid: str | None
    error: str | None


@dataclass
class Outbound:
    """Sends queued messages: `deliver` for what is due (the job), `send_now` for one just queued."""

    sessions: sessionmaker[Session]
    sender: SmsSender
    clock: Clock
    settings: SmsSettings

    def deliver(self, limit: int = 100) -> list[Outcome]:
        """Send the messages that are due (pending, their next try reached, no live claim)."""
        return [self._send(claimed) for claimed in self._claim(None, limit)]

    def send_now(self, message_id: int) -> Outcome:
        """Send one queued message now (the page's code, the CLI's link): if another sender holds it, or it
        has been sent already, its state as it stands."""
        claimed = self._claim(message_id, 1)
        if claimed:
            return self._send(claimed[0])
        with unit_of_work(self.sessions) as session:
            message = session.get(SmsMessage, message_id)
            assert message is not None
            return Outcome(message.id, message.status, message.provider_sid, message.last_error)

    def _claim(self, message_id: int | None, limit: int) -> list[tuple[int, str, str, str]]:
        now = self.clock.now()
        token = secrets.token_hex(8)
        with unit_of_work(self.sessions) as session:
            stmt = select(SmsMessage).where(
                SmsMessage.status == PENDING,
                or_(SmsMessage.claim_expires_at.is_(None), SmsMessage.claim_expires_at < now))
            if message_id is None:
                stmt = stmt.where(SmsMessage.next_try_at <= now)
            else:
                stmt = stmt.where(SmsMessage.id == message_id)
            rows = list(session.scalars(stmt.order_by(SmsMessage.id).limit(limit).with_for_update(skip_locked=True)))
            for row in rows:
                row.claimed_by, row.claim_expires_at = token, now + timedelta(seconds=self.settings.claim_seconds)
                row.attempts += 1
                row.updated_at = now
            claimed = [(row.id, row.to_number, row.body, token) for row in rows]
            session.commit()
        return claimed

    def _send(self, claimed: tuple[int, str, str, str]) -> Outcome:
        message_id, to, body, token = claimed
        sid: str | None = None
        error: SendFailed | None = None
        try:
            sid = self.sender.send(to, body)  # no transaction open
        except SendFailed as exc:
            error = exc
        now = self.clock.now()
        with unit_of_work(self.sessions) as session:
            message = session.get(SmsMessage, message_id, with_for_update=True)
            assert message is not None
            if message.claimed_by != token and message.status != PENDING:
                return Outcome(message.id, message.status, message.provider_sid, message.last_error)
            message.claimed_by = message.claim_expires_at = None
            message.updated_at = now
            if error is None:
                message.status, message.provider_sid, message.sent_at, message.next_try_at = SENT, sid, now, None
            else:
                message.last_error = str(error)
                if error.permanent or message.attempts >= self.settings.max_attempts:
                    message.status, message.next_try_at = FAILED, None
                else:
                    wait = self.settings.retry_seconds * 2 ** (message.attempts - 1)
                    message.next_try_at = now + timedelta(seconds=wait)
            outcome = Outcome(message.id, message.status, message.provider_sid, message.last_error)
            session.commit()
        return outcome
