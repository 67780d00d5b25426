"""Recording downloads do not trust the URL or the body (issue 15): the account's credentials go only to
Twilio's API hosts over https, a body is capped in size and stored only when it is a complete WAV file, and
one bad row never stops the downloads of the others."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from huifang.config import ConfigError, load_settings
from kit.settings import RecordingSettings, TwilioSettings
from kit.vocab import RecordingStatus
from recordings.media import MediaClient, MediaRefused, wav_problem
from speech.cache import PromptCache
from storage.models import Recording
from storage.repositories import calls as call_repo
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr, sid


@pytest.fixture
def ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    built = build_ivr(engine, tmp_path, prompt_cache)
    with built.http:
        yield built


RE = "RE" + "d" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}"


def announce(ivr: Ivr, sid_: str = RE, url: str = URL) -> int:
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": sid_, "RecordingUrl": url,
            "RecordingStatus": "completed", "RecordingDuration": "3", "RecordingChannels": "2"}
    return ivr.post("/twilio/recording", form).status_code


def recording(ivr: Ivr, sid_: str = RE) -> Recording:
    with ivr.session() as s:
        return s.query(Recording).filter_by(recording_sid=sid_).one()


def stored_files(ivr: Ivr) -> list[str]:
    root = ivr.svc.files.root  # type: ignore[attr-defined]
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("url", ["https://evil.example.com/2010-04-01/Recordings/RE1",
                                 "http://api.twilio.com/2010-04-01/Recordings/RE1",
                                 "https://api.twilio.com.evil.example.com/Recordings/RE1",
                                 "https://api.twilio.com:8443/Recordings/RE1",
                                 "https://AC1:token@api.twilio.com/Recordings/RE1"])
def test_the_accounts_credentials_never_leave_twilios_hosts(url: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add(responses.GET, url.split("//", 1)[0] + "//" + url.split("@")[-1].split("//")[-1] + ".wav",
                 body=answer_wav())
        with pytest.raises(MediaRefused, match="not one of Twilio's media hosts|not a media URL"):
            MediaClient("AC1", "secret", sleep=lambda _s: None).fetch(url, attempts=2, wait_s=0)
        assert len(http.calls) == 0


def test_configured_hosts_are_the_only_other_ones() -> None:
    client = MediaClient.from_settings(TwilioSettings(account_sid="AC1", auth_token="t", media_hosts=(
        "api.dublin.ie1.twilio.com",)), RecordingSettings())
    assert client.refusal("https://api.dublin.ie1.twilio.com/2010-04-01/Recordings/RE1") is None
    assert client.refusal("https://api.twilio.com/2010-04-01/Recordings/RE1") is None
    assert client.refusal("http://api.dublin.ie1.twilio.com/2010-04-01/Recordings/RE1") is not None
    harness = MediaClient.from_settings(TwilioSettings(api_base_url="http://127.0.0.1:8099"), RecordingSettings())
    assert harness.refusal("http://127.0.0.1:8099/2010-04-01/Recordings/RE1") is None
    assert harness.refusal("https://api.twilio.com/2010-04-01/Recordings/RE1") is not None
    with pytest.raises(ConfigError, match="twilio.api_base_url: must be https"):
        load_settings(environ={"HUIFANG__TWILIO__API_BASE_URL": "http://api.example.com"})
    with pytest.raises(ConfigError, match="twilio.media_hosts"):
        load_settings(environ={"HUIFANG__TWILIO__MEDIA_HOSTS": '["http://evil.example.com"]'})
    assert load_settings(environ={"HUIFANG__RECORDINGS__MAX_DOWNLOAD_MB": "2"}).recordings.max_download_mb == 2


def truncated_wav() -> bytes:
    whole = answer_wav(2.0)
    return whole[: len(whole) // 2]  # the header promises two seconds


def riff_header_only() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
    return buffer.getvalue()


@pytest.mark.parametrize(("body", "reason"), [(b"RIFF", "not a WAV file"), (b"<html>busy</html>", "not a WAV file"),
                                              (truncated_wav(), "a truncated WAV file"),
                                              (riff_header_only(), "without audio")])
def test_a_body_that_is_not_a_complete_wav_is_never_stored(ivr: Ivr, body: bytes, reason: str) -> None:
    ivr.answer_call()
    ivr.http.add(responses.GET, URL + ".wav", body=body, status=200)
    assert announce(ivr) == 200
    rec = recording(ivr)
    assert rec.status is RecordingStatus.PENDING  # kept, with the reason, and tried again later
    assert rec.last_error is not None
    assert reason in rec.last_error
    assert (rec.path, rec.sha256, rec.stored_at) == (None, None, None)
    assert stored_files(ivr) == []
    ivr.http.replace(responses.GET, URL + ".wav", body=answer_wav(), status=200)  # Twilio serves it whole later
    ivr.clock.advance(timedelta(minutes=ivr.svc.settings.recordings.retry_after_minutes))
    assert ivr.svc.downloader.fetch_due() == {"stored": 1, "pending": 0}


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_size_cap_is_cut_off_and_not_stored(ivr: Ivr, declared: bool) -> None:
    ivr.svc.media.max_bytes = 20_000
    ivr.answer_call()
    body = answer_wav(2.0)  # 32 kB
    headers = {} if declared else {"Transfer-Encoding": "chunked"}
    ivr.http.add(responses.GET, URL + ".wav", body=body, status=200, headers=headers,
                 auto_calculate_content_length=declared)
    assert announce(ivr) == 200
    rec = recording(ivr)
    assert rec.status is RecordingStatus.PENDING
    assert rec.last_error is not None
    assert "20000 bytes allowed (recordings.max_download_mb)" in rec.last_error
    assert stored_files(ivr) == []


def test_a_bad_row_is_marked_and_skipped_and_the_others_are_stored(ivr: Ivr) -> None:
    """A RecordingSid of ../../../tmp/pwned stored before the webhook checked it made every fetch fail."""
    ivr.answer_call()
    good, bad = "RE" + "e" * 32, "../../../tmp/pwned"
    with ivr.session() as s:
        call = call_repo.by_sid(s, sid("CA1"))
        assert call is not None
        now = ivr.clock.now()
        for recording_sid in (bad, good):  # the bad one first: claimed first
            s.add(Recording(recording_sid=recording_sid, call_id=call.id, status=RecordingStatus.PENDING,
                            source_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{good}",
                            channels=2, download_attempts=0, next_try_at=now, created_at=now, updated_at=now))
        s.commit()
    ivr.http.add(responses.GET, f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{good}.wav",
                 body=answer_wav())
    assert ivr.svc.downloader.fetch_due() == {"stored": 1, "pending": 0}
    assert recording(ivr, good).status is RecordingStatus.STORED
    marked = recording(ivr, bad)
    assert marked.status is RecordingStatus.FAILED
    assert marked.last_error is not None
    assert "not a Twilio recording SID" in marked.last_error
    assert not any("pwned" in f for f in stored_files(ivr))
    assert ivr.svc.downloader.fetch_due() == {"stored": 0, "pending": 0}  # nothing left to trip over


def test_wav_problem_takes_any_bytes() -> None:
    assert wav_problem(answer_wav()) is None
    for junk in (b"", b"RIFF", b"RIFF\xff\xff\xff\xffWAVE", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 16,
                 answer_wav()[:44], answer_wav()[:30], bytes(range(256)) * 4):
        assert wav_problem(junk) is not None, junk[:20]
