"""Listening to one call recording: who may, which file, and one audit line per playback.

Who may listen is decided here once, for the console's player and `huifang recordings play` alike: the
recording readers (compliance, supervisor, QA, the operator) and a branch's case handlers for their own
branches' calls (`RECORDING_PLAYERS`; docs/console.md: a branch sees its branches' recordings). The agent
role is not among them: nothing records which agent took a handed-off call, so "calls handed off to it"
cannot be scoped yet.

An unknown SID, a recording outside the actor's branches, one not stored (pending, absent, failed), purged
past its retention date, or whose file is missing from the store are all the same `NotPlayable` to the
caller (the console answers 404, revealing nothing). A missing file is also logged as an error: a stored
recording without its file is data loss (`huifang recordings verify` reports it too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from kit.actor import RECORDING_PLAYERS, Actor
from kit.vocab import RecordingStatus
from recordings.audit import audit
from recordings.store import RecordingStore
from storage.models import Recording
from storage.repositories import recordings as recording_repo

log = logging.getLogger(__name__)

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}  # the store keeps Twilio's WAV (recordings.media)
PLAYBACK_WINDOW = timedelta(minutes=30)  # a range from the middle within this of the user's last playback line
                                         # continues that playback (see `note_playback`)


class NotPlayable(LookupError):
    """No recording this actor may listen to under that SID; the message says why (for the CLI and logs)."""


class Availability(StrEnum):
    PLAYABLE = "playable"
    PENDING = "pending"  # announced, not downloaded yet (retried until stored)
    ABSENT = "absent"  # Twilio says the call has no audio
    FAILED = "failed"  # Twilio says the recording failed
    PURGED = "purged"  # deleted after its retention date
    MISSING = "missing"  # stored, but the file is not in the store: data loss


def availability(recording: Recording, files: RecordingStore) -> Availability:
    """Whether the recording can be listened to now, and if not why; a missing file is logged as an error."""
    if recording.status is not RecordingStatus.STORED:
        return Availability(recording.status.value)
    if recording.path and files.exists(recording.path):
        return Availability.PLAYABLE
    log.error("recording %s is stored at %s but its file is missing from the store (data loss: run huifang "
              "recordings verify)", recording.recording_sid, recording.path)
    return Availability.MISSING


@dataclass(frozen=True)
class Playable:
    recording_sid: str
    call_sid: str
    policy_no: str
    path: str  # in the store
    media_type: str
    size_bytes: int  # of the file in the store now


def playable(session: Session, files: RecordingStore, actor: Actor, recording_sid: str, *,
             policy_id: int | None = None) -> Playable:
    """The recording `actor` may listen to, or NotPlayable. `policy_id`: it must also belong to that policy
    (the page it is played from)."""
    actor.require(RECORDING_PLAYERS, "play recordings")
    row = recording_repo.with_call_and_policy_for(session, actor, recording_sid)
    if row is None or (policy_id is not None and row[2].id != policy_id):
        raise NotPlayable(f"no stored recording {recording_sid}")
    recording, call, policy = row
    state = availability(recording, files)
    if state is not Availability.PLAYABLE or recording.path is None:
        raise NotPlayable(f"no stored recording {recording_sid}: it is {state.value}")
    extension = PurePosixPath(recording.path).suffix.lstrip(".").lower()
    return Playable(recording.recording_sid, call.call_sid, policy.policy_no, recording.path,
                    MEDIA_TYPES.get(extension, "application/octet-stream"),
                    files.local_path(recording.path).stat().st_size)


def note_playback(session: Session, actor: Actor, played: Playable, *, first_byte: int | None, reason: str,
                  detail: str, now: datetime) -> bool:
    """Write the audit line when this request starts a playback; True when it wrote one. Flushed only: the
    caller commits it before the first byte of audio is sent.

    One line per playback, not per HTTP request. A player fetches audio in byte ranges: Chromium asks for
    `bytes=0-` when play is pressed and for other ranges while seeking or buffering. So a request starts a
    playback (and is audited) when it sends from byte 0: no Range header, or a range that begins at byte 0
    (`first_byte` 0). A range from the middle continues a playback and is not audited, unless the trail has
    no playback of this recording by this user within PLAYBACK_WINDOW: then it is audited all the same, so
    no one reaches the audio without a line by skipping byte 0. `first_byte` None: nothing is sent (HEAD).
    """
    if first_byte is None:
        return False
    if first_byte > 0 and recording_repo.played_since(session, actor.user, played.recording_sid,
                                                      now - PLAYBACK_WINDOW):
        return False
    touched = [f"call {played.call_sid}", f"policy {played.policy_no}", *([detail] if detail else [])]
    audit(session, actor=actor, action="playback", target=played.recording_sid, reason=reason, now=now,
          detail="; ".join(touched))
    return True
