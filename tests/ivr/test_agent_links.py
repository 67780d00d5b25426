"""Agent links (issue 15): expiring, single-purpose tokens bound to the call and the agent line it was handed
to; the link is exchanged for a session cookie on that call's page and the token leaves the URL; the outcome
is posted only from the page's own origin, and once the call is classified with it, it is final."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from calls import service as calls
from calls.errors import OutcomeFinal
from flows.vocab import ResultClass
from ivr.agent_links import Purpose
from kit.vocab import AgentOutcome, CaseStatus
from storage.db import unit_of_work
from tests.ivr.conftest import BASE, TOKEN, Ivr

LINE = "+861088880000"  # the agent line build_ivr dials
SID = "CA" + "0" * 31 + "1"  # "CA1" as the test IVR sends it


def hand_off(ivr: Ivr) -> None:
    """A call handed to the agent line and connected: it ends, classified, the agent's word pending."""
    ivr.run_to_question()
    ivr.turn(digits="1")
    ivr.turn(digits="0")
    ivr.ok(ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}", ivr.params("CA1", DialCallStatus="completed")))
    assert ivr.call().result_class is ResultClass.PROBLEM


def get(client: FlaskClient, url: str) -> TestResponse:
    parts = urlsplit(url)
    return client.get(parts.path + (f"?{parts.query}" if parts.query else ""), base_url=BASE)


def post_outcome(client: FlaskClient, outcome: str, *, origin: str | None = BASE, **headers: str) -> TestResponse:
    if origin is not None:
        headers["Origin"] = origin
    return client.post(f"/agent/calls/{SID}/outcome", data={"outcome": outcome}, headers=headers, base_url=BASE)


def signed_in(ivr: Ivr) -> FlaskClient:
    """A browser that opened a fresh link: it holds the page's session cookie."""
    client = ivr.app.test_client()
    assert get(client, ivr.svc.agent_link(SID, LINE)).status_code == 303
    return client


def test_a_link_is_exchanged_for_a_session_on_the_clean_page_url(ivr: Ivr) -> None:
    hand_off(ivr)
    client = ivr.app.test_client()
    opened = get(client, ivr.svc.agent_link(SID, LINE))
    assert opened.status_code == 303
    assert opened.headers["Location"] == f"/agent/calls/{SID}"  # no token in the address bar or the history
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    cookie = opened.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", f"Path=/agent/calls/{SID}", "Max-Age=1800"):
        assert flag in cookie
    page = get(client, opened.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ivr.policy_no in html
    assert "token" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert get(ivr.app.test_client(), f"/agent/calls/{SID}").status_code == 403  # no session, no page


def test_links_and_sessions_expire(ivr: Ivr) -> None:
    hand_off(ivr)
    link = ivr.svc.agent_link(SID, LINE)
    ivr.clock.advance(timedelta(minutes=ivr.svc.settings.ivr.agent_link_minutes, seconds=1))
    assert get(ivr.app.test_client(), link).status_code == 403
    client = signed_in(ivr)
    assert get(client, f"/agent/calls/{SID}").status_code == 200
    ivr.clock.advance(timedelta(minutes=ivr.svc.settings.ivr.agent_session_minutes, seconds=1))
    assert get(client, f"/agent/calls/{SID}").status_code == 403
    assert post_outcome(client, "clarified").status_code == 403
    assert ivr.call().agent_outcome is None


def test_a_token_opens_only_its_call_for_its_agent_line_and_its_purpose(ivr: Ivr) -> None:
    hand_off(ivr)
    tokens, now = ivr.svc.agent_tokens, ivr.clock.now()
    other_line = tokens.mint(Purpose.LINK, SID, "+861099990000", now)
    other_call = tokens.mint(Purpose.LINK, "CA" + "f" * 32, LINE, now)
    a_session = tokens.mint(Purpose.SESSION, SID, LINE, now)
    for token in (other_line, other_call, a_session, "", "x", "1.2.3", "9" * 90, "令牌", "\x00"):
        assert get(ivr.app.test_client(), f"/agent/calls/{SID}?token={token}").status_code == 403, token
    client = ivr.app.test_client()
    client.set_cookie("huifang_agent", tokens.mint(Purpose.LINK, SID, LINE, now), domain="ivr.example.com",
                      path=f"/agent/calls/{SID}")
    assert get(client, f"/agent/calls/{SID}").status_code == 403  # a link is not a session


def test_the_old_links_hmac_of_the_call_sid_opens_nothing(ivr: Ivr) -> None:
    hand_off(ivr)
    secret = hashlib.sha256(("agent-page:" + TOKEN).encode()).hexdigest()
    old = hmac.new(secret.encode(), SID.encode(), hashlib.sha256).hexdigest()[:32]
    assert ivr.client.get(f"/agent/calls/{SID}?token={old}", base_url=BASE).status_code == 403
    posted = ivr.client.post(f"/agent/calls/{SID}/outcome?token={old}", data={"outcome": "clarified"},
                             headers={"Origin": BASE}, base_url=BASE)
    assert posted.status_code == 403
    assert ivr.call().agent_outcome is None


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example.com"}, {"origin": None},
                                     {"origin": None, "Referer": "https://evil.example.com/x"},
                                     {"origin": "null"}, {"origin": "http://ivr.example.com"}])
def test_the_outcome_is_taken_only_from_the_pages_own_origin(ivr: Ivr, headers: dict[str, str | None]) -> None:
    hand_off(ivr)
    client = signed_in(ivr)
    headers = dict(headers)
    origin = headers.pop("origin")
    refused = post_outcome(client, "clarified", origin=origin, **{k: v for k, v in headers.items() if v})
    assert refused.status_code == 403
    assert "Origin" in refused.get_data(as_text=True)
    assert ivr.call().agent_outcome is None
    from_page = post_outcome(client, "clarified", origin=None, Referer=f"{BASE}/agent/calls/{SID}")
    assert from_page.status_code == 200
    assert ivr.call().agent_outcome is AgentOutcome.CLARIFIED


def test_an_outcome_cannot_be_flipped_days_later(ivr: Ivr) -> None:
    hand_off(ivr)
    assert post_outcome(signed_in(ivr), "not_clarified").status_code == 200
    before = (ivr.call().result_class, [c.status for c in ivr.cases()], len(ivr.events()))
    assert before[:2] == (ResultClass.PROBLEM, [CaseStatus.OPEN])
    ivr.clock.advance(timedelta(days=3))
    client = signed_in(ivr)  # even with a fresh, valid link
    flipped = post_outcome(client, "clarified")
    assert flipped.status_code == 409
    assert "final" in flipped.get_data(as_text=True)
    assert post_outcome(client, "not_clarified").status_code == 200  # the same word again: nothing changes
    after = ivr.call()
    assert after.agent_outcome is AgentOutcome.NOT_CLARIFIED
    assert (after.result_class, [c.status for c in ivr.cases()], len(ivr.events())) == before


def test_the_rule_is_the_call_services_whoever_asks(ivr: Ivr) -> None:
    """calls.service.agent_outcome is the one place: the console's agent desk runs the same."""
    hand_off(ivr)
    with unit_of_work(ivr.svc.sessions) as session:
        calls.agent_outcome(session, ivr.svc.calls, SID, AgentOutcome.NOT_CLARIFIED, "")
        session.commit()
    with unit_of_work(ivr.svc.sessions) as session, pytest.raises(OutcomeFinal, match="through the call's case"):
        calls.agent_outcome(session, ivr.svc.calls, SID, AgentOutcome.CLARIFIED, "")
    assert ivr.call().result_class is ResultClass.PROBLEM


def test_an_outcome_given_during_the_call_may_be_corrected_until_it_ends(ivr: Ivr) -> None:
    ivr.run_to_question()
    ivr.turn(digits="1")
    ivr.turn(digits="0")  # the agent line rings; the call is not classified yet
    client = signed_in(ivr)
    assert post_outcome(client, "not_clarified").status_code == 200
    assert post_outcome(client, "clarified").status_code == 200
    ivr.ok(ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}", ivr.params("CA1", DialCallStatus="completed")))
    assert ivr.call().agent_outcome is AgentOutcome.CLARIFIED
    assert ivr.call().result_class is not ResultClass.PROBLEM
    assert post_outcome(client, "not_clarified").status_code == 409
