"""Whole-call recordings: announced by Twilio, downloaded with the account's credentials, stored once."""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import date, timedelta

import responses
from requests import PreparedRequest

from kit.vocab import RecordingStatus
from storage.models import Recording
from tests.ivr.conftest import ACCOUNT, TOKEN, Ivr, answer_wav

RE = "RE" + "a" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}"


def _callback(ivr: Ivr, status: str = "completed", sid: str = RE, **extra: str) -> int:
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": sid, "RecordingUrl": URL if status == "completed" else "",
            "RecordingStatus": status, "RecordingDuration": "42", "RecordingChannels": "2",
            "RecordingSource": "OutboundAPI", **extra}
    return ivr.post("/twilio/recording", form).status_code


def _recording(ivr: Ivr) -> Recording:
    with ivr.session() as s:
        return s.query(Recording).one()


def test_a_completed_recording_is_downloaded_and_stored_with_its_checksum(ivr: Ivr) -> None:
    ivr.status("CA1", "initiated")
    ivr.answer_call()
    audio = answer_wav(3.0)
    ivr.http.add(responses.GET, URL + ".wav", body=audio, status=200)
    assert _callback(ivr) == 200
    rec = _recording(ivr)
    assert rec.status is RecordingStatus.STORED
    assert (rec.channels, rec.duration_s, rec.size_bytes) == (2, 42, len(audio))
    assert rec.sha256 == hashlib.sha256(audio).hexdigest()
    assert rec.path == f"2026/11/25/110100/{ivr.policy_no}/{RE}.wav"
    stored = ivr.svc.files.read(rec.path)
    assert stored == audio
    auth = ivr.http.calls[-1].request.headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    # 20-year term, issued 2026-11-12: contract ends 2046-11-12, kept ten years after
    assert rec.retain_until == date(2056, 11, 12)


def test_a_slow_download_holds_no_lock_so_a_status_callback_for_another_call_goes_through(ivr: Ivr) -> None:
    """The download runs with no transaction open: on SQLite (BEGIN IMMEDIATE takes the write lock at the
    start of a transaction) a download inside one made every other webhook wait, then fail after 5 s."""
    ivr.answer_call("CA1")
    audio = answer_wav()
    downloading, release = threading.Event(), threading.Event()

    def slow_twilio(_request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        downloading.set()
        release.wait(timeout=60)  # a safety net only: the test sets it
        return 200, {"Content-Type": "audio/x-wav"}, audio

    ivr.http.add_callback(responses.GET, URL + ".wav", callback=slow_twilio)
    replies: list[int] = []
    recording = threading.Thread(target=lambda: replies.append(_callback(ivr)))
    recording.start()
    try:
        assert downloading.wait(timeout=60)
        status = ivr.status("CA2", "initiated")  # another call, same database, mid-download
        assert status.status_code == 200, status.get_data(as_text=True)
        assert status.get_data(as_text=True) == "taken\n"
        assert recording.is_alive()  # the download was still blocked throughout
        assert replies == []
    finally:
        release.set()
        recording.join(timeout=60)
    assert replies == [200]
    rec = _recording(ivr)
    assert (rec.status, rec.sha256, rec.claimed_by, rec.claim_expires_at) == (
        RecordingStatus.STORED, hashlib.sha256(audio).hexdigest(), None, None)


def test_the_same_callback_again_changes_nothing(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.http.add(responses.GET, URL + ".wav", body=answer_wav(), status=200)
    _callback(ivr)
    first = _recording(ivr)
    downloads = len(ivr.http.calls)
    assert _callback(ivr) == 200
    again = _recording(ivr)
    assert (again.id, again.sha256, again.updated_at) == (first.id, first.sha256, first.updated_at)
    assert len(ivr.http.calls) == downloads


def test_a_recording_not_ready_yet_is_retried_until_stored(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    ivr.http.add(responses.GET, URL + ".wav", body=answer_wav(), status=200)
    _callback(ivr)
    assert _recording(ivr).status is RecordingStatus.STORED
    assert ivr.sleeps == [ivr.svc.settings.recordings.download_wait_s]


def test_a_recording_that_stays_unavailable_is_kept_pending_and_stored_later(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    assert _callback(ivr) == 200
    pending = _recording(ivr)
    settings = ivr.svc.settings.recordings
    assert pending.status is RecordingStatus.PENDING
    assert pending.download_attempts == settings.download_attempts
    assert pending.last_error is not None
    assert "HTTP 404" in pending.last_error
    assert pending.next_try_at == ivr.clock.now() + timedelta(minutes=settings.retry_after_minutes)
    assert ivr.svc.downloader.fetch_due() == {"stored": 0, "pending": 0}  # not due yet: nothing tried
    ivr.http.replace(responses.GET, URL + ".wav", body=answer_wav(), status=200)
    ivr.clock.advance(timedelta(minutes=settings.retry_after_minutes))
    assert ivr.svc.downloader.fetch_due() == {"stored": 1, "pending": 0}
    assert _recording(ivr).status is RecordingStatus.STORED


def test_absent_and_failed_recordings_are_recorded_not_dropped(ivr: Ivr) -> None:
    ivr.answer_call()
    assert _callback(ivr, "absent") == 200
    assert _callback(ivr, "failed", sid="RE" + "b" * 32, ErrorCode="13617") == 200
    with ivr.session() as s:
        rows = {r.recording_sid: (r.status, r.error_code) for r in s.query(Recording)}
    assert rows == {RE: (RecordingStatus.ABSENT, None), "RE" + "b" * 32: (RecordingStatus.FAILED, "13617")}
    assert len(ivr.http.calls) == 0


def test_bad_recording_callbacks_are_400_or_404(ivr: Ivr) -> None:
    ivr.answer_call()
    missing = ivr.post("/twilio/recording", {"CallSid": "CA1", "RecordingStatus": "completed"})
    assert (missing.status_code, missing.get_data(as_text=True)) == (400, "recording callback without RecordingSid\n")
    no_url = ivr.post("/twilio/recording", {"CallSid": "CA1", "RecordingSid": RE, "RecordingStatus": "completed"})
    assert no_url.status_code == 400
    unknown = ivr.post("/twilio/recording", {"CallSid": "CA9", "RecordingSid": RE, "RecordingStatus": "absent"})
    assert unknown.status_code == 404
    with ivr.session() as s:
        assert s.query(Recording).count() == 0


def test_a_successful_call_without_a_recording_is_called_again(ivr: Ivr) -> None:
    """docs/domain.md §14 rule 19: no recording, no successful phone callback."""
    from flows.vocab import ResultClass
    from kit.vocab import TaskStatus

    ivr.run_to_question()
    for _ in range(40):
        if [c.tag for c in ivr.ok(ivr.turn(digits="1"))][-1] == "Hangup":
            break
    assert ivr.task().status is TaskStatus.COMPLETED
    assert _callback(ivr, "absent") == 200
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.QUEUED, None)
    call = ivr.call()
    assert call.result_class is ResultClass.STANDARD
    assert "recording_missing" in call.reason_codes
    assert _callback(ivr, "absent") == 200  # again: nothing more changes
    assert ivr.call().reason_codes.count("recording_missing") == 1


def test_a_problem_call_without_a_recording_keeps_its_cases(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.turn(digits="1")
    ivr.turn(digits="0101")
    ivr.turn(digits="0202")  # identity failed → verification case
    _callback(ivr, "failed")
    assert len(ivr.cases()) == 1
    assert ivr.task().result_class is not None
