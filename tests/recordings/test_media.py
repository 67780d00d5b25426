"""Downloading Twilio media: credentials, extension, bounded retries."""

from __future__ import annotations

import pytest
import responses

from recordings.media import MediaClient, MediaUnavailable

URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"


@responses.activate
def test_retries_not_ready_then_returns_the_audio() -> None:
    waits: list[float] = []
    responses.add(responses.GET, URL + ".wav", status=404)
    responses.add(responses.GET, URL + ".wav", status=503)
    responses.add(responses.GET, URL + ".wav", body=b"RIFF....", status=200)
    client = MediaClient("AC1", "secret", sleep=waits.append)
    assert client.fetch(URL, attempts=5, wait_s=0.5, backoff=2.0) == b"RIFF...."
    assert waits == [0.5, 1.0]


@responses.activate
def test_a_refusal_is_not_retried() -> None:
    waits: list[float] = []
    responses.add(responses.GET, URL + ".wav", status=401)
    with pytest.raises(MediaUnavailable, match=r"not available after 1 tries \(HTTP 401\)"):
        MediaClient("AC1", "wrong", sleep=waits.append).fetch(URL, attempts=5, wait_s=0.5)
    assert waits == []


@responses.activate
def test_an_explicit_extension_is_kept_and_a_bad_url_refused() -> None:
    responses.add(responses.GET, URL + ".mp3", body=b"ID3", status=200)
    assert MediaClient("AC1", "t").fetch(URL + ".mp3", attempts=1, wait_s=0) == b"ID3"
    with pytest.raises(MediaUnavailable, match="not a media URL"):
        MediaClient("AC1", "t").fetch("file:///etc/passwd", attempts=1, wait_s=0)
