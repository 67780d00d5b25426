"""Whole-call recordings: Twilio's recording callback announces one; it is downloaded and stored once.

A download is claim → commit → download → commit (recordings.downloader runs it): `claim` leases due
pending recordings to one downloader; `finish_stored` / `finish_failed` write the result only while that
claim is still held. A recording that cannot be downloaded yet stays `pending` with its error and a
next-try time and is tried again until it is stored: never dropped (architecture invariant 4); a claim
whose lease ran out may be taken over. `absent` and `failed` announcements are kept as such. Services
flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from kit.settings import RecordingSettings
from kit.vocab import RecordingStatus
from kit.wire import is_call_sid, is_recording_sid, shown, whole_number
from recordings.retention import retain_until
from recordings.store import RecordingStore, Stored, recording_path
from storage.models import Branch, Call, Policy, Recording
from storage.repositories import recordings as recording_repo

ANNOUNCED = {"completed": RecordingStatus.PENDING, "absent": RecordingStatus.ABSENT,
             "failed": RecordingStatus.FAILED}


MAX_DURATION_S = 7 * 24 * 3600
MAX_CHANNELS = 8
MAX_ERROR_CODE = 16  # the column's width


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
        """The callback's parameters, each of the shape Twilio sends (SIDs, ASCII numbers within bounds); the
        RecordingUrl's host is checked by the media client that would fetch it (recordings.media)."""
        for name in ("CallSid", "RecordingSid", "RecordingStatus"):
            if not form.get(name):
                raise BadCallback(f"recording callback without {name}")
        if not is_call_sid(form["CallSid"]):
            raise BadCallback(f"CallSid must be a Twilio call SID (CA and 32 hex digits), got {shown(form['CallSid'])}")
        if not is_recording_sid(form["RecordingSid"]):
            raise BadCallback(f"RecordingSid must be a Twilio recording SID (RE and 32 hex digits), got "
                              f"{shown(form['RecordingSid'])}")
        status = form["RecordingStatus"]
        if status not in (*ANNOUNCED, "in-progress"):
            raise BadCallback(f"RecordingStatus {shown(status)} is not one of in-progress, completed, absent, failed")
        if status == "completed" and not form.get("RecordingUrl"):
            raise BadCallback("a completed recording callback without RecordingUrl")
        error_code = form.get("ErrorCode") or None
        if error_code is not None and len(error_code) > MAX_ERROR_CODE:
            raise BadCallback(f"ErrorCode is longer than {MAX_ERROR_CODE} characters")
        return cls(
            call_sid=form["CallSid"],
            recording_sid=form["RecordingSid"],
            status=status,
            url=form.get("RecordingUrl", ""),
            duration_s=_int(form, "RecordingDuration", MAX_DURATION_S),
            channels=_int(form, "RecordingChannels", MAX_CHANNELS) or 1,
            error_code=error_code,
        )


def _int(form: Mapping[str, str], name: str, maximum: int) -> int | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        return whole_number(str(raw), maximum)
    except ValueError as exc:
        raise BadCallback(f"{name} {exc}") from None


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


@dataclass(frozen=True)
class Claim:
    """A downloader's lease on one pending recording: what to fetch, where it goes, and the claim's token."""

    recording_id: int
    recording_sid: str
    token: str
    url: str
    path: str  # in the store: YYYY/MM/DD/BRANCH/POLICY_NO/RECORDING_SID.wav
    expires_at: datetime


def claim_token(holder: str) -> str:
    """Unique to one claim (a process that claims again after its own lease ran out holds a new token)."""
    return f"{holder[:47]}/{uuid.uuid4().hex[:16]}"


def claim(session: Session, holder: str, *, now: datetime, settings: RecordingSettings, limit: int,
          recording_sid: str | None = None) -> list[Claim]:
    """Claim up to `limit` due pending recordings (or the one named) for `holder`, for claim_lease_seconds.

    A row whose RecordingSid is not of Twilio's shape (stored before webhooks checked it) is never fetched: it
    is marked failed with the reason, and the others are claimed. The caller commits before downloading: the
    download happens with no transaction open.
    """
    lock = session.get_bind().dialect.name == "postgresql"
    token = claim_token(holder)
    expires = now + timedelta(seconds=settings.claim_lease_seconds)
    claims: list[Claim] = []
    for recording, call, policy in recording_repo.claimable(session, now, limit=limit, lock=lock,
                                                            recording_sid=recording_sid):
        if not is_recording_sid(recording.recording_sid):
            recording.status, recording.next_try_at, recording.updated_at = RecordingStatus.FAILED, None, now
            recording.last_error = (f"RecordingSid {shown(recording.recording_sid)} is not a Twilio recording SID: "
                                    "never downloaded")
            continue
        recording.claimed_by, recording.claim_expires_at, recording.updated_at = token, expires, now
        branch = session.get(Branch, policy.branch_id)
        path = recording_path(call.started_at or call.created_at, branch.code if branch else "unknown",
                              policy.policy_no, recording.recording_sid)
        claims.append(Claim(recording.id, recording.recording_sid, token, recording.source_url, path, expires))
    session.flush()
    return claims


def finish_stored(session: Session, claimed: Claim, stored: Stored, *, now: datetime) -> bool:
    """The download is stored. False when the claim was taken over meanwhile (nothing changed)."""
    return recording_repo.store_claimed(session, claimed.recording_id, claimed.token, path=stored.path,
                                        sha256=stored.sha256, size_bytes=stored.size_bytes, now=now)


def finish_failed(session: Session, claimed: Claim, error: str, *, now: datetime,
                  settings: RecordingSettings) -> bool:
    """The download failed: kept pending with its error, tried again after retry_after_minutes (never
    dropped). False when the claim was taken over meanwhile (nothing changed)."""
    return recording_repo.fail_claimed(session, claimed.recording_id, claimed.token,
                                       attempts=settings.download_attempts, error=error,
                                       next_try_at=now + timedelta(minutes=settings.retry_after_minutes), now=now)


def keep_streamed_answer(session: Session, files: RecordingStore, call: Call, policy: Policy, seq: int,
                         wav: bytes, duration_s: int, source: str, *, now: datetime,
                         settings: RecordingSettings) -> Recording:
    """A streamed answer's audio (the stream's frames for turn `seq`), kept with the call as a stored recording,
    as a <Record> answer is kept by Twilio: in the compliance bundle and under the same retention. Its SID has
    Twilio's shape, derived from the call and the turn; the same answer again changes nothing."""
    sid = "RE" + hashlib.sha256(f"{call.call_sid}/answer/{seq}".encode()).hexdigest()[:32]
    existing = recording_repo.by_sid(session, sid)
    if existing is not None:
        return existing
    branch = session.get(Branch, policy.branch_id)
    path = recording_path(call.started_at or call.created_at, branch.code if branch else "unknown",
                          policy.policy_no, sid)
    stored = files.put(path, wav)  # a local write, before the row: a rollback leaves a file a retry reuses
    recording = Recording(recording_sid=sid, call_id=call.id, status=RecordingStatus.STORED, source_url=source,
                          channels=1, duration_s=duration_s, path=stored.path, sha256=stored.sha256,
                          size_bytes=stored.size_bytes, stored_at=now,
                          retain_until=retain_until(policy.issue_date, policy.policy_term_years, settings),
                          download_attempts=0, created_at=now, updated_at=now)
    session.add(recording)
    session.flush()
    return recording
