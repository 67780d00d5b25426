"""Whole-call recordings downloaded after Twilio's callback is answered (recordings.background): the callback
commits the announcement and answers at once; a per-process pool stores the audio; whatever the pool cannot
store stays pending for the retry job. Nothing here waits on time: the tests wait on events and the pool."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from requests import PreparedRequest
from sqlalchemy import Engine

from kit.vocab import RecordingStatus
from recordings.background import BackgroundDownloads
from recordings.downloader import Outcome
from speech.cache import PromptCache
from storage.models import Recording
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr

MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
FIRST, SECOND = "RE" + "a" * 32, "RE" + "b" * 32


@pytest.fixture
def pooled(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    """One download thread and room for one waiting download, so a test can fill the pool."""
    built = build_ivr(engine, tmp_path, prompt_cache, download_threads=1)
    built.svc.settings = dataclasses.replace(built.svc.settings, recordings=dataclasses.replace(
        built.svc.settings.recordings, download_queue_limit=1))
    with built.http:
        yield built
        pool = built.svc.recording_downloads
        assert isinstance(pool, BackgroundDownloads)
        pool.shutdown(wait=True)


def _callback(ivr: Ivr, sid: str) -> tuple[int, str]:
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": sid, "RecordingUrl": MEDIA + sid,
            "RecordingStatus": "completed", "RecordingDuration": "42", "RecordingChannels": "2",
            "RecordingSource": "OutboundAPI"}
    reply = ivr.post("/twilio/recording", form)
    return reply.status_code, reply.get_data(as_text=True)


def _recordings(ivr: Ivr) -> dict[str, Recording]:
    with ivr.session() as s:
        return {r.recording_sid: r for r in s.query(Recording)}


def _held_download(ivr: Ivr, sid: str, audio: bytes) -> tuple[threading.Event, threading.Event]:
    """Twilio's media host answers `sid` only once the test lets it."""
    downloading, release = threading.Event(), threading.Event()

    def slow(_request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        downloading.set()
        release.wait(timeout=60)  # a safety net only: the test sets it
        return 200, {"Content-Type": "audio/x-wav"}, audio

    ivr.http.add_callback(responses.GET, MEDIA + sid + ".wav", callback=slow)
    return downloading, release


def _pool(ivr: Ivr) -> BackgroundDownloads:
    pool = ivr.svc.recording_downloads
    assert isinstance(pool, BackgroundDownloads)
    return pool


def test_the_callback_is_answered_while_the_download_is_still_running_then_it_is_stored(pooled: Ivr) -> None:
    pooled.answer_call()
    audio = answer_wav(2.0)
    downloading, release = _held_download(pooled, FIRST, audio)
    try:
        assert _callback(pooled, FIRST) == (200, "taken\n")  # answered with Twilio's media host holding on
        assert downloading.wait(timeout=60)
        assert _recordings(pooled)[FIRST].status is RecordingStatus.PENDING  # announced and committed
        assert _pool(pooled).waiting == 1
    finally:
        release.set()
    _pool(pooled).shutdown(wait=True)
    stored = _recordings(pooled)[FIRST]
    assert (stored.status, stored.sha256, stored.claimed_by) == (
        RecordingStatus.STORED, hashlib.sha256(audio).hexdigest(), None)
    assert stored.path is not None
    assert pooled.svc.files.read(stored.path) == audio


def test_a_full_pool_leaves_the_recording_pending_for_the_retry_job(pooled: Ivr,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    pooled.answer_call()
    audio = answer_wav(1.0)
    downloading, release = _held_download(pooled, FIRST, audio)
    try:
        assert _callback(pooled, FIRST)[0] == 200
        assert downloading.wait(timeout=60)
        pooled.http.add(responses.GET, MEDIA + SECOND + ".wav", body=audio, status=200)
        with caplog.at_level(logging.WARNING, logger="recordings.background"):
            assert _callback(pooled, SECOND)[0] == 200  # the pool is full: announced, not downloaded here
        assert "left pending for the retry job" in caplog.text
    finally:
        release.set()
    _pool(pooled).shutdown(wait=True)
    rows = _recordings(pooled)
    assert (rows[FIRST].status, rows[SECOND].status, rows[SECOND].claimed_by) == (
        RecordingStatus.STORED, RecordingStatus.PENDING, None)
    assert pooled.svc.downloader.fetch_due() == {"stored": 1, "pending": 0}  # the retry job takes it at once
    assert _recordings(pooled)[SECOND].status is RecordingStatus.STORED


def test_a_download_that_breaks_in_the_pool_is_logged_and_taken_over_after_its_lease(
        pooled: Ivr, caplog: pytest.LogCaptureFixture) -> None:
    pooled.answer_call()

    def broken(_request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        raise RuntimeError("a bug in the download path")

    pooled.http.add_callback(responses.GET, MEDIA + FIRST + ".wav", callback=broken)
    with caplog.at_level(logging.ERROR, logger="recordings.background"):
        assert _callback(pooled, FIRST)[0] == 200
        _pool(pooled).shutdown(wait=True)
    assert "the download failed unexpectedly; left pending for the retry job" in caplog.text
    held = _recordings(pooled)[FIRST]
    assert (held.status, held.claimed_by is not None) == (RecordingStatus.PENDING, True)  # its lease still runs
    assert pooled.svc.downloader.fetch_due() == {"stored": 0, "pending": 0}
    pooled.http.replace(responses.GET, MEDIA + FIRST + ".wav", body=answer_wav(1.0), status=200)
    pooled.clock.advance(timedelta(seconds=pooled.svc.settings.recordings.claim_lease_seconds + 1))
    assert pooled.svc.downloader.fetch_due() == {"stored": 1, "pending": 0}
    assert _recordings(pooled)[FIRST].status is RecordingStatus.STORED


def test_a_pool_is_made_in_the_process_that_uses_it() -> None:
    """gunicorn forks its workers from a master that loaded the app: a pool made there has no threads in the
    workers, so each process makes its own on first use."""
    pid = [100]
    pool = BackgroundDownloads(lambda _sid: Outcome.STORED, threads=1, queue_limit=5, process=lambda: pid[0])
    made = []
    try:
        made.append(pool._pool_here())
        assert pool._pool_here() is made[0]
        pid[0] = 200  # the same object, now in a forked worker
        made.append(pool._pool_here())
        assert made[1] is not made[0]
        future = pool.submit(FIRST)
        assert future is not None
        assert future.result(timeout=60) is Outcome.STORED
    finally:
        for each in made:
            each.shutdown(wait=True)
