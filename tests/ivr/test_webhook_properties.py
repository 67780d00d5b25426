"""Property: random and malformed, but correctly signed, requests to every Twilio webhook never get a 5xx, and
a request that is refused (4xx) changes nothing in the database (issue 15, "Hostile input").

The requests mix what Twilio sends (the live call's SID and turn, the task, real statuses) with junk: other
SIDs, numbers too large or not ASCII ("²", "١"), control characters, very long values, unknown names. The
same 150 examples run every time; HUIFANG_PROPERTY_EXAMPLES=5000 explores that many new ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from speech.cache import PromptCache
from storage.models import Call, CallbackTask, CallEvent, Case, Recording
from tests.ivr.conftest import ACCOUNT, BASE, TOKEN, Ivr, answer_wav, build_ivr, sid

ROUTES = ["/twilio/voice/answer", "/twilio/voice/turn", "/twilio/voice/dial", "/twilio/voice/message",
          "/twilio/voice/status", "/twilio/recording"]
CALL = sid("CA1")
EXAMPLES = int(os.environ.get("HUIFANG_PROPERTY_EXAMPLES", "150"))
FIXED = "HUIFANG_PROPERTY_EXAMPLES" not in os.environ  # the same examples every run, unless asked to explore

junk_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", "\x00", "1\x00", "²", "١", "٣", "𝟙", "-1", "+1", " 1", "1e3", "0x1f", "NaN", "9" * 400,
                     str(2**31), str(2**63), str(2**64), "../../../tmp/pwned", "CA1", "RE1", "令牌", "%00", "\r\n"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
sids = st.one_of(st.just(CALL), st.just("CA" + "f" * 32), st.just("RE" + "a" * 32), junk_text,
                 st.text(alphabet="0123456789abcdefABCDEFG", min_size=30, max_size=34).map(lambda t: "CA" + t))
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'b' * 32}"
recording_urls = st.one_of(
    st.just(RECORDING_URL),
    st.sampled_from(["http://api.twilio.com/x", "https://evil.example.com/x", "file:///etc/passwd",
                     "https://api.twilio.com:99999/x", "https://[::1/x", "https://a@b/x", "https://" + "a" * 600]),
    junk_text)
FIELDS: dict[str, Any] = {
    "Digits": st.one_of(st.sampled_from(["1", "2", "0", "0517", "hangup", "*", "#"]), junk_text),
    "CallStatus": st.one_of(st.sampled_from(["queued", "initiated", "ringing", "in-progress", "completed", "busy",
                                             "no-answer", "failed", "canceled"]), junk_text),
    "AnsweredBy": st.one_of(st.sampled_from(["human", "machine_start", "fax", "unknown"]), junk_text),
    "To": junk_text, "From": junk_text, "Timestamp": st.one_of(st.just("Wed, 25 Nov 2026 02:00:00 +0000"), junk_text),
    "CallDuration": junk_text, "SequenceNumber": junk_text, "SipResponseCode": junk_text,
    "DialCallStatus": st.one_of(st.sampled_from(["completed", "answered", "busy", "no-answer", "failed"]), junk_text),
    "DialCallSid": junk_text, "DialCallDuration": junk_text,
    "RecordingSid": st.one_of(st.just("RE" + "b" * 32), sids),
    "RecordingUrl": recording_urls,
    "RecordingStatus": st.one_of(st.sampled_from(["in-progress", "completed", "absent", "failed"]), junk_text),
    "RecordingDuration": junk_text, "RecordingChannels": junk_text, "ErrorCode": junk_text,
}


GOOD: dict[str, Any] = {
    "/twilio/voice/answer": {"AnsweredBy": st.sampled_from(["human", "machine_start", "unknown"])},
    "/twilio/voice/turn": {"Digits": st.sampled_from(["1", "2", "0", "0517", "*", "hangup"])},
    "/twilio/voice/dial": {"DialCallStatus": st.sampled_from(["completed", "answered", "busy", "no-answer"])},
    "/twilio/voice/message": {"RecordingSid": st.just("RE" + "c" * 32), "RecordingDuration": st.just("3")},
    "/twilio/voice/status": {"CallStatus": st.sampled_from(["ringing", "in-progress", "completed", "busy"]),
                             "Timestamp": st.just("Wed, 25 Nov 2026 02:00:00 +0000"), "CallDuration": st.just("35")},
    "/twilio/recording": {"RecordingSid": st.just("RE" + "b" * 32), "RecordingUrl": st.just(RECORDING_URL),
                          "RecordingStatus": st.sampled_from(["completed", "absent", "in-progress"]),
                          "RecordingDuration": st.just("42"), "RecordingChannels": st.just("2")},
}


@st.composite
def requests(draw: st.DrawFn, ivr: Ivr) -> tuple[str, dict[str, str], dict[str, str]]:
    """A request as Twilio would send it for the live call now, then none to three things made junk: a value
    of the query or the form, a field added or dropped."""
    route = draw(st.sampled_from(ROUTES))
    query: dict[str, str] = {}
    if route in ("/twilio/voice/answer", "/twilio/voice/status"):
        query["task"] = str(ivr.task_id)
    elif route != "/twilio/recording":
        query["seq"] = str(ivr.call().turn_seq + draw(st.integers(-1, 1)))
        if route == "/twilio/voice/turn" and draw(st.integers(0, 4)) == 0:
            query["no_input"] = "1"
    form = {"CallSid": CALL, "AccountSid": ACCOUNT, "CallStatus": "in-progress", "Direction": "outbound-api",
            "To": "+8613700000001", "From": "+861085551234"}
    form.update({name: draw(strategy) for name, strategy in GOOD[route].items()})
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["query", "form", "add", "drop"]))
        if change == "query":
            query[draw(st.sampled_from(["task", "seq", "no_input", "bodySHA256", "x"]))] = draw(junk_text)
        elif change == "form":
            name = draw(st.sampled_from(sorted(form)))
            form[name] = draw(sids if name == "CallSid" else junk_text)
        elif change == "add":
            name = draw(st.one_of(st.sampled_from(sorted(FIELDS)), st.text(min_size=1, max_size=10)))
            form[name] = draw(FIELDS.get(name, junk_text))
        elif form:
            form.pop(draw(st.sampled_from(sorted(form))))
    return route, query, form


def snapshot(ivr: Ivr) -> tuple[object, ...]:
    """Everything a webhook may change, compared as a whole."""
    with ivr.session() as s:
        return (
            [(c.call_sid, c.task_id, c.turn_seq, c.twilio_status, c.outcome, c.state, c.end_reason, c.result_class,
              c.event_count, c.updated_at, c.dialled_number, c.answered_by) for c in s.scalars(select(Call).order_by(Call.id))],
            s.scalars(select(CallEvent.id).order_by(CallEvent.id)).all(),
            [(r.recording_sid, r.status, r.updated_at) for r in s.scalars(select(Recording).order_by(Recording.id))],
            [(c.id, c.status) for c in s.scalars(select(Case).order_by(Case.id))],
            [(t.id, t.status, t.attempts, t.updated_at, t.next_attempt_at, t.result_class)
             for t in s.scalars(select(CallbackTask).order_by(CallbackTask.id))],
        )


@pytest.fixture
def live(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    """A call placed, answered and at its first question: real requests reach real rules."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True)
    with ivr.http:
        ivr.http.add(responses.GET, RECORDING_URL + ".wav", body=answer_wav())
        ivr.run_to_question()
        yield ivr


@settings(max_examples=EXAMPLES, deadline=None, derandomize=FIXED,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_signed_junk_never_gets_a_5xx_and_a_refusal_changes_nothing(live: Ivr, data: st.DataObject) -> None:
    route, query, form = data.draw(requests(live))
    path = route + (f"?{urlencode(query, quote_via=quote)}" if query else "")
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
    before = snapshot(live)
    response = live.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    body = response.get_data(as_text=True)
    event(f"{route} → {response.status_code}")
    assert response.status_code < 500, (path, form, body)
    if response.status_code >= 400:
        assert body.endswith("\n"), body  # one line, naming what is wrong
        assert body.count("\n") == 1, body
        assert snapshot(live) == before, (path, form, body)


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=FIXED,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=junk_text, token=junk_text, outcome=junk_text)
def test_prompt_and_agent_urls_take_any_junk(live: Ivr, key: str, token: str, outcome: str) -> None:
    before = snapshot(live)
    for response in (live.client.get(f"/prompts/{quote(key, safe='')}.wav"),
                     live.client.get(f"/prompts/private/{quote(key, safe='')}.wav"),
                     live.client.get(f"/agent/calls/{quote(key, safe='')}?token={quote(token, safe='')}"),
                     live.client.get(f"/agent/calls/{CALL}?token={quote(token, safe='')}"),
                     live.client.post(f"/agent/calls/{CALL}/outcome?token={quote(token, safe='')}",
                                      data={"outcome": outcome}, headers={"Origin": BASE})):
        assert response.status_code != 200, response.get_data(as_text=True)
        assert response.status_code < 500, response.get_data(as_text=True)
    assert snapshot(live) == before
