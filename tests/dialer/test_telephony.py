"""The Twilio provider against Twilio's REST API mocked with `responses`: the exact parameters, the errors."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests
import responses

from dialer.telephony import CallRequest, PlacementError, PlacementProblem, TwilioProvider

ACCOUNT = "AC" + "1" * 32
CALLS = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
REQUEST = CallRequest(task_id=7, to="+8613700000001", caller_id="+861085550000",
                      answer_url="https://ivr.example.com/twilio/voice/answer?task=7",
                      fallback_url="https://ivr2.example.com/twilio/voice/fallback",
                      status_url="https://ivr.example.com/twilio/voice/status?task=7",
                      recording_status_url="https://ivr.example.com/twilio/recording",
                      ring_timeout_s=30, time_limit_s=960, machine_detection=True)


def _created(sid: str = "CA" + "a" * 32) -> dict[str, object]:
    return {"sid": sid, "account_sid": ACCOUNT, "status": "queued", "to": REQUEST.to, "from": REQUEST.caller_id}


@responses.activate
def test_the_call_is_created_with_every_parameter_the_ivr_relies_on() -> None:
    responses.add(responses.POST, CALLS, json=_created(), status=201)
    sid = TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert sid == "CA" + "a" * 32
    sent = parse_qs(responses.calls[0].request.body)  # type: ignore[arg-type]
    assert sent == {
        "To": ["+8613700000001"], "From": ["+861085550000"],
        "Url": ["https://ivr.example.com/twilio/voice/answer?task=7"], "Method": ["POST"],
        "FallbackUrl": ["https://ivr2.example.com/twilio/voice/fallback"], "FallbackMethod": ["POST"],
        "StatusCallback": ["https://ivr.example.com/twilio/voice/status?task=7"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"], "StatusCallbackMethod": ["POST"],
        "Record": ["true"], "RecordingChannels": ["dual"],
        "RecordingStatusCallback": ["https://ivr.example.com/twilio/recording"],
        "RecordingStatusCallbackEvent": ["completed", "absent"], "RecordingStatusCallbackMethod": ["POST"],
        "MachineDetection": ["Enable"], "Timeout": ["30"], "TimeLimit": ["960"],
    }
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(("status", "code", "problem"), [
    (400, 21211, PlacementProblem.INVALID_NUMBER),
    (400, 21217, PlacementProblem.INVALID_NUMBER),
    (400, 21214, PlacementProblem.INVALID_NUMBER),
    (400, 13224, PlacementProblem.INVALID_NUMBER),
    (429, 20429, PlacementProblem.RATE_LIMITED),
    (503, 20500, PlacementProblem.TRANSIENT),
    (401, 20003, PlacementProblem.REFUSED),
    (400, 21210, PlacementProblem.REFUSED),  # caller ID not verified: a person must fix the account
])
@responses.activate
def test_errors_are_sorted_by_what_the_dialer_must_do(status: int, code: int, problem: PlacementProblem) -> None:
    responses.add(responses.POST, CALLS, json={"code": code, "message": "nope", "status": status}, status=status)
    with pytest.raises(PlacementError) as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert caught.value.problem is problem
    assert caught.value.code == code


@responses.activate
def test_a_network_failure_is_transient() -> None:
    responses.add(responses.POST, CALLS, body=requests.ConnectionError("connection reset"))
    with pytest.raises(PlacementError, match="network") as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert caught.value.problem is PlacementProblem.TRANSIENT


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="twilio.account_sid and twilio.auth_token"):
        TwilioProvider("", "")
