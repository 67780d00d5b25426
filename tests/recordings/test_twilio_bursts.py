"""Fault: Twilio's API answering the whole-call recording's download with 429 (Retry-After), 500 and read
timeouts in bursts, then the audio (both databases, the virtual clock, no sleeping: the waits are recorded).

The recording callback takes the announcement and tries the download; the burst leaves it pending with its
error and next try; the retry job leaves it alone until then and stores it once the burst is over. Nothing
lost (the row and, in the end, the audio), nothing doubled (one row, one file, stored once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import Engine, select

from recordings.downloader import Downloader
from speech.cache import PromptCache
from storage.models import Recording
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr

RE = "RE" + "d" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}"


@dataclass
class RecordingMedia:
    """GET of one recording's audio: the next scripted fault, else the audio; each request's virtual time kept."""

    ivr: Ivr
    audio: bytes
    faults: list[str] = field(default_factory=list)  # "429:<retry-after>", "500", "timeout"
    requests: list[tuple[datetime, str]] = field(default_factory=list)

    def __call__(self, request: requests.PreparedRequest) -> Any:
        fault = self.faults.pop(0) if self.faults else "ok"
        self.requests.append((self.ivr.clock.now(), fault))
        if fault == "ok":
            return 200, {"Content-Type": "audio/x-wav"}, self.audio
        if fault.startswith("429"):
            return 429, {"Retry-After": fault.partition(":")[2]}, '{"code": 20429, "status": 429}'
        if fault == "500":
            return 500, {}, '{"code": 20500, "status": 500}'
        raise requests.ReadTimeout("HTTPSConnectionPool(host='api.twilio.com', port=443): Read timed out.")


@pytest.fixture
def ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    built = build_ivr(engine, tmp_path, prompt_cache)
    with built.http:
        built.answer_call()
        yield built


def _announce(ivr: Ivr) -> str:
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": RE, "RecordingUrl": URL,
            "RecordingStatus": "completed", "RecordingDuration": "42", "RecordingChannels": "2"}
    response = ivr.post("/twilio/recording", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _recording(ivr: Ivr) -> Recording:
    with ivr.session() as s:
        return s.scalars(select(Recording)).one()


def test_a_burst_leaves_the_recording_pending_and_the_retry_job_stores_it_once(ivr: Ivr) -> None:
    settings = ivr.svc.settings.recordings
    audio = answer_wav(2.0)
    media = RecordingMedia(ivr, audio, faults=["500", "429:30", "timeout", "500"])
    ivr.http.add_callback(responses.GET, URL + ".wav", callback=media)
    job = Downloader(sessions=ivr.svc.sessions, media=ivr.svc.media, files=ivr.svc.files, clock=ivr.clock,
                     settings=settings, holder="job")
    announced = ivr.clock.now()

    # the callback: a 500, then a 429 asking for 30 s, longer than the download would wait: not asked again
    # now (the announcement is kept, the download left to the retry job)
    assert _announce(ivr) == "taken\n"
    assert [fault for _, fault in media.requests] == ["500", "429:30"]
    assert ivr.sleeps == [settings.download_wait_s]  # the virtual wait after the 500, none after the 429
    pending = _recording(ivr)
    assert (pending.status, pending.path, pending.claimed_by) == ("pending", None, None)
    assert pending.last_error is not None
    assert "HTTP 429, Retry-After 30 s" in pending.last_error
    next_try = announced + timedelta(minutes=settings.retry_after_minutes)
    assert pending.next_try_at == next_try

    # Twilio delivers the callback again (it does on a slow answer): nothing new, nothing fetched
    assert _announce(ivr) == "taken\n"
    assert len(media.requests) == 2

    # the retry job before the next try: Twilio is not asked
    ivr.clock.advance(timedelta(minutes=settings.retry_after_minutes) - timedelta(seconds=1))
    assert job.fetch_due() == {"stored": 0, "pending": 0}
    assert len(media.requests) == 2

    # at the next try: a timeout, a 500, then the audio: stored, once
    ivr.clock.set(next_try)
    assert job.fetch_due() == {"stored": 1, "pending": 0}
    assert [fault for _, fault in media.requests] == ["500", "429:30", "timeout", "500", "ok"]
    assert all(at >= next_try for at, _ in media.requests[2:])
    assert ivr.sleeps == [1.0, 1.0, 2.0]
    stored = _recording(ivr)
    assert (stored.status, stored.sha256, stored.size_bytes) == ("stored", hashlib.sha256(audio).hexdigest(), len(audio))
    assert (stored.last_error, stored.next_try_at, stored.claimed_by) == (None, None, None)
    assert stored.path is not None
    assert ivr.svc.files.read(stored.path) == audio
    folder = (Path(settings.root) / stored.path).parent
    assert [p.name for p in folder.iterdir()] == [f"{RE}.wav"]  # one file, no scratch left

    # nothing more to do, whoever asks: no second download, no second row
    ivr.clock.advance(timedelta(hours=1))
    assert job.fetch_due() == {"stored": 0, "pending": 0}
    assert _announce(ivr) == "taken\n"
    assert len(media.requests) == 5
    with ivr.session() as s:
        assert s.query(Recording).count() == 1
