"""Junk that a probe of `huifang serve` sent, correctly signed: each gets a 4xx naming the parameter, never a
500, and changes nothing in the database (issue 15, "Found by a security probe")."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from storage.models import Call, CallbackTask, CallEvent, Recording
from tests.ivr.conftest import ACCOUNT, BASE, TOKEN, Ivr

SID = "CA" + "0" * 31 + "1"
REC = "RE" + "a" * 32


def signed(ivr: Ivr, path: str, form: dict[str, str]) -> TestResponse:
    """POST as Twilio does, signed for the public URL as requested (query percent-encoded); no helper of the
    test IVR in between (nothing placed, no SID rewritten)."""
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
    return ivr.client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def form(call_sid: str = SID, **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+861085551234", "To": "+8613700000001",
            "CallStatus": "in-progress", "ApiVersion": "2010-04-01", "Direction": "outbound-api", **extra}


def snapshot(ivr: Ivr) -> tuple[object, ...]:
    with ivr.session() as s:
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        return (s.scalar(select(func.count()).select_from(Call)), s.scalar(select(func.count()).select_from(CallEvent)),
                s.scalar(select(func.count()).select_from(Recording)), task.status, task.attempts, task.updated_at)


def refused(response: TestResponse, status: int, *names: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert body.endswith("\n")
    assert body.count("\n") == 1, body
    for name in names:
        assert name in body, body


@pytest.mark.parametrize("task", ["9" * 400, str(2**63), str(2**31), "-1", "١", "²", "1e3", " 1", "0x10"])
@pytest.mark.parametrize("route", ["/twilio/voice/answer", "/twilio/voice/status"])
def test_a_task_that_is_no_whole_number_in_range_is_400(ivr: Ivr, route: str, task: str) -> None:
    before = snapshot(ivr)
    refused(signed(ivr, f"{route}?task={quote(task)}", form(CallStatus="ringing")), 400, "task")
    assert snapshot(ivr) == before


@pytest.mark.parametrize("seq", ["²", "١", "9" * 400, str(2**63), "-0", "+1"])
@pytest.mark.parametrize("route", ["/twilio/voice/turn", "/twilio/voice/dial", "/twilio/voice/message"])
def test_a_seq_that_is_no_ascii_whole_number_in_range_is_400(ivr: Ivr, route: str, seq: str) -> None:
    before = snapshot(ivr)
    refused(signed(ivr, f"{route}?seq={quote(seq)}", form(Digits="1", DialCallStatus="completed")), 400, "seq")
    assert snapshot(ivr) == before


@pytest.mark.parametrize("call_sid", ["CA1", "CA" + "g" * 32, "CA" + "0" * 33, "ca" + "0" * 32,
                                      "CA" + "0" * 31 + "\x00", "../../../tmp/pwned", "CA" + "0" * 31 + "١"])
def test_a_call_sid_not_of_twilios_shape_is_400(ivr: Ivr, call_sid: str) -> None:
    before = snapshot(ivr)
    refused(signed(ivr, f"/twilio/voice/answer?task={ivr.task_id}", form(call_sid)), 400, "CallSid")
    refused(signed(ivr, f"/twilio/voice/status?task={ivr.task_id}", form(call_sid, CallStatus="ringing")),
            400, "CallSid")
    refused(signed(ivr, "/twilio/voice/turn?seq=1", form(call_sid, Digits="1")), 400, "CallSid")
    assert snapshot(ivr) == before


@pytest.mark.parametrize("value", ["\x00", "1\x00", "a\x07b"])
@pytest.mark.parametrize("name", ["Digits", "To", "From", "AnsweredBy", "Timestamp"])
def test_a_control_character_in_any_parameter_is_400(ivr: Ivr, name: str, value: str) -> None:
    before = snapshot(ivr)
    refused(signed(ivr, f"/twilio/voice/status?task={ivr.task_id}", form(CallStatus="ringing", **{name: value})),
            400, name)
    assert snapshot(ivr) == before


def test_a_call_duration_that_is_no_whole_number_is_400(ivr: Ivr) -> None:
    before = snapshot(ivr)
    for duration in ("²", "9" * 400):
        refused(signed(ivr, f"/twilio/voice/status?task={ivr.task_id}",
                       form(CallStatus="completed", CallDuration=duration)), 400, "CallDuration")
    assert snapshot(ivr) == before


@pytest.mark.parametrize("sid", ["RE" + "a" * 31 + "\x00", "../../../tmp/pwned", "RE1", "RE" + "a" * 32 + "/x"])
def test_a_recording_sid_not_of_twilios_shape_is_400_and_stores_no_row(ivr: Ivr, sid: str) -> None:
    before = snapshot(ivr)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC}"
    refused(signed(ivr, "/twilio/recording", {"AccountSid": ACCOUNT, "CallSid": SID, "RecordingSid": sid,
                                              "RecordingUrl": url, "RecordingStatus": "completed"}),
            400, "RecordingSid")
    assert snapshot(ivr) == before


@pytest.mark.parametrize(("name", "value"), [("RecordingDuration", "²"), ("RecordingDuration", "9" * 400),
                                             ("RecordingChannels", "١"), ("RecordingChannels", str(2**63))])
def test_recording_numbers_are_ascii_and_bounded(ivr: Ivr, name: str, value: str) -> None:
    before = snapshot(ivr)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC}"
    refused(signed(ivr, "/twilio/recording", {"AccountSid": ACCOUNT, "CallSid": SID, "RecordingSid": REC,
                                              "RecordingUrl": url, "RecordingStatus": "completed", name: value}),
            400, name)
    assert snapshot(ivr) == before


@pytest.mark.parametrize("url", ["http://api.twilio.com/2010-04-01/Accounts/x/Recordings/" + REC,
                                 "https://evil.example.com/Recordings/" + REC,
                                 "https://api.twilio.com.evil.example.com/Recordings/" + REC,
                                 "https://user@evil.example.com/" + REC,
                                 "https://api.twilio.com/" + "a" * 600,
                                 "file:///etc/passwd"])
def test_a_recording_url_off_twilios_api_hosts_is_400(ivr: Ivr, url: str) -> None:
    before = snapshot(ivr)
    refused(signed(ivr, "/twilio/recording", {"AccountSid": ACCOUNT, "CallSid": SID, "RecordingSid": REC,
                                              "RecordingUrl": url, "RecordingStatus": "completed"}),
            400, "RecordingUrl")
    assert snapshot(ivr) == before


def test_an_answer_for_a_call_the_dialer_never_placed_starts_nothing(ivr: Ivr) -> None:
    """The task is queued, no dialer placed a call for it: a signed answered-call webhook naming it is refused."""
    before = snapshot(ivr)
    refused(signed(ivr, f"/twilio/voice/answer?task={ivr.task_id}", form()), 404, "task", SID)
    refused(signed(ivr, f"/twilio/voice/status?task={ivr.task_id}", form(CallStatus="ringing")), 404, "task")
    assert snapshot(ivr) == before


def test_a_non_ascii_agent_token_is_403(ivr: Ivr) -> None:
    for path in (f"/agent/calls/{SID}?token=令牌", f"/agent/calls/{SID}?token=%00", "/agent/calls/CA%00?token=x"):
        response = ivr.client.get(path)
        assert response.status_code in (403, 404), (path, response.get_data(as_text=True))
    posted = ivr.client.post(f"/agent/calls/{SID}/outcome?token=令牌", data={"outcome": "clarified"})
    assert posted.status_code == 403
