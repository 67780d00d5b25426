"""Text messages: the queue of SMS to send (claimed, sent outside any transaction, recorded) and the simulated
provider's outbox (what the demo and the harness "sent")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin, TimestampMixin


class SmsMessage(IdMixin, TimestampMixin, Base):
    """One SMS to send. pending → sent (or failed after sms.max_attempts); a sender claims it while sending."""

    __tablename__ = "sms_messages"

    to_number: Mapped[str] = mapped_column(String(32))  # E.164
    body: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(16))  # link | code | notice
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None]
    provider_sid: Mapped[str | None] = mapped_column(String(64))  # Twilio's MessageSid (SM…)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class SmsOutbox(IdMixin, Base):
    """What the simulated provider "sent" (sms.provider = outbox)."""

    __tablename__ = "sms_outbox"

    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    to_number: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
