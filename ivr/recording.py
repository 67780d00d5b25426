"""The whole-call recording callback: record what Twilio announced (one transaction), then store the audio
(another, after the first has committed, so the announcement survives a failed download)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from calls.errors import UnknownCall
from calls.results import recording_missing
from ivr.services import IvrServices
from recordings import service as recording_service
from recordings.service import RecordingCallback
from storage.models import Policy
from storage.repositories import calls as call_repo
from storage.repositories import recordings as recording_repo


def announce(session: Session, svc: IvrServices, callback: RecordingCallback) -> bool:
    """Take the announcement. True when there is audio to download now."""
    now = svc.clock.now()
    call = call_repo.by_sid(session, callback.call_sid)
    if call is None:
        raise UnknownCall(f"unknown CallSid {callback.call_sid!r}")
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    recording, created = recording_service.announce(session, call, policy, callback, now=now,
                                                    settings=svc.settings.recordings)
    if recording is None:
        return False
    if created and recording.status in ("absent", "failed"):
        recording_missing(session, call, callback.recording_sid, str(recording.status), now)
    return recording.status == "pending"


def store(session: Session, svc: IvrServices, callback: RecordingCallback) -> bool:
    """Download and store the announced recording (kept pending, and retried later, when it cannot be yet)."""
    recording = recording_repo.by_sid(session, callback.recording_sid)
    call = call_repo.by_sid(session, callback.call_sid)
    assert recording is not None
    assert call is not None
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    return recording_service.store(session, recording, call, policy, media=svc.media, files=svc.files,
                                   now=svc.clock.now(), settings=svc.settings.recordings)
