"""Call recordings: announced by Twilio's recording callback, downloaded, stored once with a checksum."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.vocab import RecordingStatus
from storage.base import Base, IdMixin, TimestampMixin, enum_column


class Recording(IdMixin, TimestampMixin, Base):
    __tablename__ = "recordings"

    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    status: Mapped[RecordingStatus] = mapped_column(enum_column(RecordingStatus), index=True)
    source_url: Mapped[str] = mapped_column(String(512))
    channels: Mapped[int] = mapped_column(default=1)
    duration_s: Mapped[int | None]
    path: Mapped[str | None] = mapped_column(String(512))  # relative to recordings.root
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    retain_until: Mapped[date | None]  # None: the contract end is not known yet (whole life): keep
    download_attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(16))
    stored_at: Mapped[datetime | None]
    # A downloader's lease on a pending recording (recordings.downloader): a token unique to the claim and
    # when the lease runs out; both cleared when the result is stored. An expired claim may be taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]  # deleted after its retention date (the row and checksum stay)


class AuditEvent(IdMixin, Base):
    """Who accessed recordings, when, what and why. Append-only: the app has no way to change a row, and the
    database refuses UPDATE and DELETE on the table (migration 0005)."""

    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(index=True)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # find | export | playback | purge | verify | dispute
    target: Mapped[str] = mapped_column(String(255))  # what was asked for (policy, filters, recording)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # what it touched (recording sids, counts)
