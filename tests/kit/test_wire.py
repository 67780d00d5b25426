"""Values from outside: ASCII whole numbers within bounds, Twilio's SID shapes, origins, and URLs for logs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.wire import (
    MAX_ID,
    has_control_character,
    is_call_sid,
    is_recording_sid,
    origin,
    redact_query,
    whole_number,
)


@pytest.mark.parametrize("raw", ["0", "7", "007", str(MAX_ID)])
def test_whole_numbers(raw: str) -> None:
    assert whole_number(raw) == int(raw)


@pytest.mark.parametrize("raw", ["", "²", "١", "𝟙", "-1", "+1", " 1", "1 ", "1e3", "0x1", "1.0", str(MAX_ID + 1),
                                 "9" * 400, "9" * 5000, str(2**63)])
def test_anything_else_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        whole_number(raw)


@given(st.text(max_size=30))
def test_whole_number_takes_any_text(raw: str) -> None:
    try:
        value = whole_number(raw)
    except ValueError:
        return
    assert 0 <= value <= MAX_ID
    assert raw.isascii()


def test_sid_shapes() -> None:
    assert is_call_sid("CA" + "0123456789abcdef" * 2)
    assert is_recording_sid("RE" + "ABCDEF0123456789" * 2)
    for junk in ("CA1", "CA" + "g" * 32, "CA" + "0" * 33, "RE" + "0" * 32, "CA" + "0" * 31 + "\n", "ca" + "0" * 32,
                 "CA" + "٠" * 32):
        assert not is_call_sid(junk), junk
    assert not is_recording_sid("../../../tmp/pwned")


def test_control_characters() -> None:
    assert has_control_character("a\x00b")
    assert has_control_character("\x7f")
    assert not has_control_character("第一行\n第二行\t制表\r")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.twilio.com/2010-04-01/x", "https://api.twilio.com"),
    ("https://API.Twilio.com:443/x", "https://api.twilio.com"),
    ("http://127.0.0.1:8099/x", "http://127.0.0.1:8099"),
    ("https://[::1]:8443/x", "https://[::1]:8443"),
    ("https://user:pw@api.twilio.com/x", None),
    ("ftp://api.twilio.com/x", None),
    ("https://api.twilio.com:99999/x", None),
    ("https:///x", None),
    ("not a url", None),
])
def test_origins(url: str, expected: str | None) -> None:
    assert origin(url) == expected


def test_redact_query_hides_secret_parameters_for_log_lines() -> None:
    assert redact_query("/agent/calls/CA1?token=1893456000.abc") == "/agent/calls/CA1?token=REDACTED"
    assert (redact_query("https://ivr.example.com/x?seq=3&Token=s3cret&code=123456&q=a+b%20c#top")
            == "https://ivr.example.com/x?seq=3&Token=REDACTED&code=REDACTED&q=a+b%20c#top")
    assert redact_query("/twilio/voice/turn?seq=3&no_input=1") == "/twilio/voice/turn?seq=3&no_input=1"
    assert redact_query("/prompts/abc.wav") == "/prompts/abc.wav"
