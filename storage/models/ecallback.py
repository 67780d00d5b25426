"""E-callback links (one SMS link per sending; the token kept only as its hash) with their one-time codes, and
the snapshots of the key screens an e-callback session showed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin, TimestampMixin


class EcallbackLink(IdMixin, TimestampMixin, Base):
    __tablename__ = "ecallback_links"

    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token in the link
    expires_at: Mapped[datetime]  # the end of the task's deadline day (the cooling-off end)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))  # the questionnaire session it opened
    code_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of salt + the current one-time code
    code_salt: Mapped[str | None] = mapped_column(String(32))
    code_expires_at: Mapped[datetime | None]
    code_sent_at: Mapped[datetime | None]
    codes_sent: Mapped[int] = mapped_column(default=0)
    wrong_codes: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None]  # too many wrong codes
    verified_at: Mapped[datetime | None]  # the one-time code was right
    used_at: Mapped[datetime | None]  # the questionnaire ended: the link accepts nothing more
    closed_at: Mapped[datetime | None]  # replaced by a new link, or left unanswered and the next channel took over
    closed_reason: Mapped[str | None] = mapped_column(String(32))


class EcallbackSnapshot(IdMixin, Base):
    """A key screen as the applicant saw it, stored write-once in the recordings store with its SHA-256."""

    __tablename__ = "ecallback_snapshots"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int]  # the call event that showed it
    kind: Mapped[str] = mapped_column(String(16))  # identity | question | done (ecallback.traces.SNAPSHOT_KINDS) | scan
    path: Mapped[str] = mapped_column(String(512))  # relative to recordings.root
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    stored_at: Mapped[datetime]
    retain_until: Mapped[date | None]  # as the policy's recordings; None: contract end unknown, keep
    purged_at: Mapped[datetime | None]  # deleted after its retention date (the row and checksum stay)
