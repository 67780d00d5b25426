"""The Twilio provider against Twilio's REST API mocked with `responses`: the exact parameters, the errors."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

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
    (503, 20503, PlacementProblem.TRANSIENT),  # not taken: try again later
    (500, 20500, PlacementProblem.UNKNOWN),  # failed while taking it: the call may have been created
    (502, None, PlacementProblem.UNKNOWN),
    (504, None, PlacementProblem.UNKNOWN),
    (401, 20003, PlacementProblem.REFUSED),
    (400, 21210, PlacementProblem.REFUSED),  # caller ID not verified: a person must fix the account
])
@responses.activate
def test_errors_are_sorted_by_what_the_dialer_must_do(status: int, code: int | None,
                                                     problem: PlacementProblem) -> None:
    responses.add(responses.POST, CALLS, json={"code": code, "message": "nope", "status": status}, status=status)
    with pytest.raises(PlacementError) as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert caught.value.problem is problem
    assert caught.value.code == code


@pytest.mark.parametrize("failure", [
    requests.ConnectTimeout("connect timed out"),
    requests.ConnectionError(MaxRetryError(None, "/Calls.json",  # type: ignore[arg-type]
                                           NewConnectionError(None, "connection refused"))),  # type: ignore[arg-type]
])
@responses.activate
def test_a_connection_never_made_is_transient(failure: requests.RequestException) -> None:
    responses.add(responses.POST, CALLS, body=failure)
    with pytest.raises(PlacementError, match="not connected") as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert caught.value.problem is PlacementProblem.TRANSIENT


@pytest.mark.parametrize("failure", [requests.ReadTimeout("read timed out"),
                                     requests.ConnectionError("connection reset")])
@responses.activate
def test_no_answer_after_the_request_was_sent_is_unknown(failure: requests.RequestException) -> None:
    """POST /Calls is not idempotent: Twilio may have created the call whose answer never came."""
    responses.add(responses.POST, CALLS, body=failure)
    with pytest.raises(PlacementError, match="no answer") as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert caught.value.problem is PlacementProblem.UNKNOWN


@responses.activate
def test_a_rate_limit_carries_twilios_retry_after() -> None:
    responses.add(responses.POST, CALLS, json={"code": 20429, "message": "Too Many Requests", "status": 429},
                  status=429, headers={"Retry-After": "120"})
    with pytest.raises(PlacementError) as caught:
        TwilioProvider(ACCOUNT, "token").place(REQUEST)
    assert (caught.value.problem, caught.value.retry_after_s) == (PlacementProblem.RATE_LIMITED, 120.0)


@responses.activate
def test_calls_placed_since_a_time_are_listed_by_number_and_caller_id() -> None:
    from datetime import UTC, datetime

    def call(sid: str, created: str) -> dict[str, object]:
        return {**_created(sid), "date_created": created}

    responses.add(responses.GET, CALLS, json={"calls": [call("CA" + "2" * 32, "Wed, 25 Nov 2026 02:03:00 +0000"),
                                                        call("CA" + "1" * 32, "Wed, 25 Nov 2026 02:00:30 +0000"),
                                                        call("CA" + "0" * 32, "Tue, 24 Nov 2026 02:00:00 +0000")],
                                              "next_page_uri": None, "page": 0, "page_size": 50})
    since = datetime(2026, 11, 25, 2, 1, tzinfo=UTC)  # within a minute of Twilio's clock: CA111… counts
    assert TwilioProvider(ACCOUNT, "token").placed_since(REQUEST.to, REQUEST.caller_id, since) == [
        "CA" + "1" * 32, "CA" + "2" * 32]
    sent = parse_qs(responses.calls[0].request.url.split("?", 1)[1])  # type: ignore[union-attr]
    assert (sent["To"], sent["From"]) == ([REQUEST.to], [REQUEST.caller_id])


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="twilio.account_sid and twilio.auth_token"):
        TwilioProvider("", "")


@responses.activate
def test_requests_go_to_twilio_api_base_url_when_it_is_not_twilios() -> None:
    """A harness's fake Twilio on loopback (twilio.api_base_url): placing and looking up go there, every page
    of a listing too; nothing is sent to api.twilio.com (responses refuses any URL not registered)."""
    from datetime import UTC, datetime

    fake = f"http://127.0.0.1:8099/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    responses.add(responses.POST, fake, json=_created("CA" + "f" * 32), status=201)
    page_2 = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json?To=x&Page=1&PageSize=1"
    responses.add(responses.GET, fake, json={"calls": [{**_created("CA" + "1" * 32),
                                                       "date_created": "Wed, 25 Nov 2026 02:00:30 +0000"}],
                                             "next_page_uri": page_2, "page": 0, "page_size": 1})
    responses.add(responses.GET, "http://127.0.0.1:8099" + page_2,
                  json={"calls": [{**_created("CA" + "2" * 32), "date_created": "Wed, 25 Nov 2026 02:03:00 +0000"}],
                        "next_page_uri": None, "page": 1, "page_size": 1})
    provider = TwilioProvider(ACCOUNT, "token", api_base_url="http://127.0.0.1:8099/")
    assert provider.place(REQUEST) == "CA" + "f" * 32
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    since = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert provider.placed_since(REQUEST.to, REQUEST.caller_id, since) == ["CA" + "1" * 32, "CA" + "2" * 32]
    assert [c.request.url.split("?")[0] for c in responses.calls] == [fake, fake, fake]  # type: ignore[union-attr]


def test_the_dialer_command_gives_the_provider_twilio_api_base_url() -> None:
    import dataclasses

    from dialer.telephony import ApiBaseHttpClient
    from huifang.app import App
    from huifang.dialer_cmd import build_dialer
    from kit.settings import Settings, TwilioSettings

    settings = dataclasses.replace(Settings(), twilio=TwilioSettings(
        account_sid=ACCOUNT, auth_token="token", api_base_url="http://127.0.0.1:8099"))
    settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url="sqlite://"))
    provider = build_dialer(App(settings=settings)).provider
    assert isinstance(provider, TwilioProvider)
    http = provider.client.http_client
    assert isinstance(http, ApiBaseHttpClient)
    assert http.base_url == "http://127.0.0.1:8099"
