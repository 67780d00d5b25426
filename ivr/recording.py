"""The whole-call recording callback: record what Twilio announced (one transaction), then store the audio
after it has committed (so the announcement survives a failed download), with no transaction open during
the download (recordings.downloader), after the callback is answered (recordings.background)."""

from __future__ import annotations

from concurrent.futures import Future

from sqlalchemy.orm import Session

from calls.errors import UnknownCall
from calls.results import recording_missing
from ivr.services import IvrServices
from recordings import service as recording_service
from recordings.downloader import Outcome
from recordings.service import RecordingCallback
from storage.models import Policy
from storage.repositories import calls as call_repo


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


def store(svc: IvrServices, callback: RecordingCallback) -> Future[Outcome] | None:
    """Download and store the announced recording: call it after the announcement has committed, with no
    transaction open. It runs on the process's download pool (or here, with recordings.download_threads = 0);
    whatever is not stored stays pending and is retried by the retry job."""
    return svc.recording_downloads.submit(callback.recording_sid)
