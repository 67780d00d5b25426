"""The harness's Twilio pieces for streamed calls, without a call: the call-update endpoint as the app's
TwilioCallUpdater meets it (twilio-python's real request path), and <Start><Stream> as Twilio parses it."""

from __future__ import annotations

import pytest

from ivr.harness.call_updates import CallUpdates
from ivr.harness.twiml import TwimlError, parse
from ivr.stream_services import TwilioCallUpdater

ACCOUNT = "AC" + "1" * 32
CALL = "CA" + "2" * 32
TWIML = "<Response><Say>next</Say></Response>"


def updater(token: str = "secret") -> tuple[TwilioCallUpdater, CallUpdates]:
    twilio = TwilioCallUpdater(ACCOUNT, token)
    updates = CallUpdates(ACCOUNT, "secret")
    twilio.client.http_client.session.mount("https://api.twilio.com/", updates)  # type: ignore[attr-defined]
    return twilio, updates


def test_an_update_of_a_call_in_progress_is_taken_with_its_stream_time() -> None:
    twilio, updates = updater()
    updates.live(CALL)
    updates.stream_ms = lambda call_sid: 4_200
    assert twilio.redirect(CALL, TWIML)
    taken = updates.take(CALL)
    assert taken is not None
    assert (taken.twiml, taken.at_ms, taken.url) == (TWIML, 4_200, "")
    assert updates.take(CALL) is None


def test_an_update_after_the_call_ended_is_error_21220() -> None:
    twilio, updates = updater()
    updates.live(CALL)
    updates.ended(CALL)
    assert not twilio.redirect(CALL, TWIML)
    assert updates.refused == [(CALL, 21220)]
    assert updates.accepted == []


def test_an_update_with_the_wrong_credentials_or_call_is_refused() -> None:
    forged, forged_updates = updater(token="wrong")
    forged_updates.live(CALL)
    assert not forged.redirect(CALL, TWIML)  # 401 (20003)
    assert forged_updates.accepted == []
    right, updates = updater()
    updates.live(CALL)
    assert not right.redirect("CA" + "3" * 32, TWIML)  # 404: no such call
    assert updates.accepted == []
    assert right.redirect(CALL, TWIML)  # the same client, the right call: taken


def test_start_stream_is_read_as_twilio_reads_it() -> None:
    verbs = parse('<Response><Start><Stream name="answers" url="wss://h/twilio/stream" track="inbound_track">'
                  '<Parameter name="token" value="t"/></Stream></Start><Redirect>https://h/q</Redirect></Response>')
    assert [v.name for v in verbs] == ["Start", "Redirect"]
    stream = verbs[0].children[0]
    assert stream.attr("url") == "wss://h/twilio/stream"
    assert [(p.attr("name"), p.attr("value")) for p in stream.children] == [("token", "t")]


@pytest.mark.parametrize("document", [
    "<Response><Start/></Response>",
    "<Response><Start><Stream/></Start></Response>",
    '<Response><Start><Stream url="wss://h/s?token=t"/></Start></Response>',
    '<Response><Start><Stream url="https://h/s"/></Start></Response>',
    '<Response><Start><Stream url="wss://h/s" track="both"/></Start></Response>',
    '<Response><Start><Stream url="wss://h/s"><Parameter name="token"/></Stream></Start></Response>',
    '<Response><Start><Play>x</Play></Start></Response>',
])
def test_start_stream_that_twilio_refuses_fails_the_call(document: str) -> None:
    with pytest.raises(TwimlError):
        parse(document)
