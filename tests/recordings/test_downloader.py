"""Recording downloads: claim → commit → download → commit. Leases, take-overs, failures (both backends)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from recordings.downloader import Downloader, DownloadFailed, Outcome
from recordings.service import RecordingCallback, announce
from speech.cache import PromptCache
from storage.models import Policy, Recording
from storage.repositories import calls as call_repo
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr, sid

RE = "RE" + "c" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}"


@pytest.fixture
def ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    """A call (CA1) whose whole-call recording has been announced and not downloaded yet."""
    built = build_ivr(engine, tmp_path, prompt_cache)
    with built.http:
        built.answer_call()
        with built.svc.sessions() as session, session.begin():
            call = call_repo.by_sid(session, sid("CA1"))
            assert call is not None
            policy = session.get(Policy, call.policy_id)
            assert policy is not None
            announce(session, call, policy, RecordingCallback(sid("CA1"), RE, "completed", URL, 42, 2, None),
                     now=built.clock.now(), settings=built.svc.settings.recordings)
        yield built


def _downloader(ivr: Ivr, holder: str) -> Downloader:
    svc = ivr.svc
    return Downloader(sessions=svc.sessions, media=svc.media, files=svc.files, clock=ivr.clock,
                      settings=svc.settings.recordings, holder=holder)


def _recording(ivr: Ivr) -> Recording:
    with ivr.session() as s:
        return s.query(Recording).one()


def _row(recording: Recording) -> tuple[object, ...]:
    return (recording.status, recording.path, recording.sha256, recording.size_bytes, recording.stored_at,
            recording.download_attempts, recording.last_error, recording.next_try_at, recording.claimed_by,
            recording.claim_expires_at, recording.updated_at)


def test_a_claim_whose_lease_ran_out_is_taken_over_and_the_late_holders_result_changes_nothing(ivr: Ivr) -> None:
    audio = answer_wav(2.0)
    ivr.http.add(responses.GET, URL + ".wav", body=audio)
    lease = timedelta(seconds=ivr.svc.settings.recordings.claim_lease_seconds)
    late, taker = _downloader(ivr, "late"), _downloader(ivr, "taker")

    [stale] = late.claim(limit=10)
    assert stale.expires_at == ivr.clock.now() + lease
    assert taker.claim(limit=10) == []  # held: nobody else may take it
    assert taker.fetch(RE) is Outcome.NOT_CLAIMED
    ivr.clock.advance(lease)
    assert taker.claim(limit=10) == []  # held to the end of its lease
    ivr.clock.advance(timedelta(seconds=1))
    [fresh] = taker.claim(limit=10)  # the lease ran out (its holder is slow, or died): taken over
    assert fresh.token != stale.token
    assert _recording(ivr).claimed_by == fresh.token

    # the late holder's failure arrives while the taker holds the claim: dropped, the taker's claim kept
    held = _row(_recording(ivr))
    assert late.finish(stale, DownloadFailed("HTTP 404")) is Outcome.SUPERSEDED
    assert _row(_recording(ivr)) == held

    assert taker.finish(fresh, taker.download(fresh)) is Outcome.STORED
    stored = _recording(ivr)
    assert stored.sha256 == hashlib.sha256(audio).hexdigest()
    assert (stored.claimed_by, stored.claim_expires_at) == (None, None)

    # the late holder's download arrives after: it writes the same file (the same bytes: a no-op) and
    # its result, success or failure, changes nothing
    ivr.clock.advance(timedelta(minutes=1))
    late_download = late.download(stale)
    assert not isinstance(late_download, DownloadFailed)
    assert late.finish(stale, late_download) is Outcome.SUPERSEDED
    assert late.finish(stale, DownloadFailed("HTTP 404")) is Outcome.SUPERSEDED
    assert _row(_recording(ivr)) == _row(stored)
    assert stored.path is not None
    assert ivr.svc.files.read(stored.path) == audio
    assert len(ivr.http.calls) == 2  # the taker's download and the late one: nothing else


def test_a_failed_download_stays_pending_with_its_error_and_next_try_and_is_stored_later(ivr: Ivr) -> None:
    settings = ivr.svc.settings.recordings
    job = _downloader(ivr, "job")
    ivr.http.add(responses.GET, URL + ".wav", status=503)
    assert job.fetch_due() == {"stored": 0, "pending": 1}
    failed = _recording(ivr)
    assert failed.status == "pending"
    assert failed.last_error is not None
    assert "HTTP 503" in failed.last_error
    assert failed.download_attempts == settings.download_attempts
    assert failed.next_try_at == ivr.clock.now() + timedelta(minutes=settings.retry_after_minutes)
    assert (failed.claimed_by, failed.claim_expires_at) == (None, None)  # given back, not held to its lease
    assert job.fetch_due() == {"stored": 0, "pending": 0}  # not due yet

    ivr.http.replace(responses.GET, URL + ".wav", body=answer_wav())
    ivr.clock.advance(timedelta(minutes=settings.retry_after_minutes))
    assert _downloader(ivr, "another job").fetch_due() == {"stored": 1, "pending": 0}
    stored = _recording(ivr)
    assert (stored.status, stored.last_error, stored.next_try_at) == ("stored", None, None)
    assert stored.download_attempts == settings.download_attempts


def test_a_downloader_that_died_holding_a_claim_strands_nothing(ivr: Ivr) -> None:
    ivr.http.add(responses.GET, URL + ".wav", body=answer_wav())
    [_claim] = _downloader(ivr, "died").claim(limit=10)  # and never finished
    job = _downloader(ivr, "job")
    assert job.fetch_due() == {"stored": 0, "pending": 0}
    assert _recording(ivr).status == "pending"
    ivr.clock.advance(timedelta(seconds=ivr.svc.settings.recordings.claim_lease_seconds + 1))
    assert job.fetch_due() == {"stored": 1, "pending": 0}
    assert _recording(ivr).status == "stored"


def test_the_retry_job_claims_a_batch_at_a_time_and_stops_at_its_limit(ivr: Ivr) -> None:
    ivr.http.add(responses.GET, URL + ".wav", status=404)
    job = _downloader(ivr, "job")
    assert job.fetch_due(limit=0) == {"stored": 0, "pending": 0}
    assert len(ivr.http.calls) == 0
    assert job.fetch_due(limit=1) == {"stored": 0, "pending": 1}
