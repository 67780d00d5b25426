"""Whole-call recordings: Twilio's recording callback announces one; it is downloaded and stored once.

A recording that cannot be downloaded yet stays `pending` with its error and a next-try time and is tried
again (`store_due`) until it is stored: never dropped (architecture invariant 4). `absent` and `failed`
announcements are kept as such. Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from kit.settings import RecordingSettings
from kit.vocab import RecordingStatus
from recordings.media import MediaClient, MediaUnavailable
from recordings.retention import retain_until
from recordings.store import AlreadyStored, RecordingStore, recording_path
from storage.models import Branch, Call, Policy, Recording
from storage.repositories import recordings as recording_repo

ANNOUNCED = {"completed": RecordingStatus.PENDING, "absent": RecordingStatus.ABSENT,
             "failed": RecordingStatus.FAILED}


class BadCallback(ValueError):
    """A recording callback with a missing or malformed parameter; the message names it."""


@dataclass(frozen=True)
class RecordingCallback:
    call_sid: str
    recording_sid: str
    status: str
    url: str
    duration_s: int | None
    channels: int
    error_code: str | None

    @classmethod
    def parse(cls, form: Mapping[str, str]) -> RecordingCallback:
        for name in ("CallSid", "RecordingSid", "RecordingStatus"):
            if not form.get(name):
                raise BadCallback(f"recording callback without {name}")
        status = form["RecordingStatus"]
        if status not in (*ANNOUNCED, "in-progress"):
            raise BadCallback(f"RecordingStatus {status!r} is not one of in-progress, completed, absent, failed")
        if status == "completed" and not form.get("RecordingUrl"):
            raise BadCallback("a completed recording callback without RecordingUrl")
        return cls(
            call_sid=form["CallSid"],
            recording_sid=form["RecordingSid"],
            status=status,
            url=form.get("RecordingUrl", ""),
            duration_s=_int(form, "RecordingDuration"),
            channels=_int(form, "RecordingChannels") or 1,
            error_code=form.get("ErrorCode") or None,
        )


def _int(form: Mapping[str, str], name: str) -> int | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise BadCallback(f"{name} must be a whole number, got {raw!r}") from None


def announce(session: Session, call: Call, policy: Policy, callback: RecordingCallback, *, now: datetime,
             settings: RecordingSettings) -> tuple[Recording | None, bool]:
    """Record what Twilio announced. The same RecordingSid again changes nothing.

    Returns the row (None for an in-progress notice) and whether this callback created it.
    """
    existing = recording_repo.by_sid(session, callback.recording_sid)
    if existing is not None or callback.status == "in-progress":
        return existing, False
    recording = Recording(
        recording_sid=callback.recording_sid,
        call_id=call.id,
        status=ANNOUNCED[callback.status],
        source_url=callback.url,
        channels=callback.channels,
        duration_s=callback.duration_s,
        retain_until=retain_until(policy.issue_date, policy.policy_term_years, settings),
        download_attempts=0,
        next_try_at=now if callback.status == "completed" else None,
        error_code=callback.error_code,
        created_at=now,
        updated_at=now,
    )
    session.add(recording)
    session.flush()
    return recording, True


def store(session: Session, recording: Recording, call: Call, policy: Policy, *, media: MediaClient,
          files: RecordingStore, now: datetime, settings: RecordingSettings) -> bool:
    """Download and store one pending recording. False (and a next try scheduled) when it cannot be yet."""
    if recording.status is not RecordingStatus.PENDING:
        return recording.status is RecordingStatus.STORED
    recording.updated_at = now
    try:
        data = media.fetch(recording.source_url, settings.download_attempts, settings.download_wait_s, backoff=2.0)
        branch = session.get(Branch, policy.branch_id)
        relative = recording_path(call.started_at or call.created_at, branch.code if branch else "unknown",
                                  policy.policy_no, recording.recording_sid)
        stored = files.put(relative, data)
    except (MediaUnavailable, AlreadyStored, OSError) as exc:
        recording.download_attempts += settings.download_attempts
        recording.last_error = str(exc)
        recording.next_try_at = now + timedelta(minutes=settings.retry_after_minutes)
        session.flush()
        return False
    recording.status = RecordingStatus.STORED
    recording.path, recording.sha256, recording.size_bytes = stored.path, stored.sha256, stored.size_bytes
    recording.stored_at, recording.next_try_at, recording.last_error = now, None, None
    session.flush()
    return True


def store_due(session: Session, *, media: MediaClient, files: RecordingStore, now: datetime,
              settings: RecordingSettings) -> dict[str, int]:
    """Try every pending recording whose next try is due (the retry job and `huifang recordings fetch`)."""
    counts = {"stored": 0, "pending": 0}
    for recording, call, policy in recording_repo.pending_due(session, now):
        ok = store(session, recording, call, policy, media=media, files=files, now=now, settings=settings)
        counts["stored" if ok else "pending"] += 1
    return counts
