"""X-Twilio-Signature: forged, missing or re-targeted requests get 403 and change nothing."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.security import SignatureCheck
from speech.cache import PromptCache
from tests.ivr.conftest import BASE, TOKEN, Ivr, build_ivr


def test_the_published_test_vector_validates() -> None:
    """docs/twilio-facts.md §2.9, checked with the same validator the app uses."""
    validator = RequestValidator("12345")
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert validator.validate("https://mycompany.com/myapp.php?foo=1&bar=2", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_a_forged_signature_is_403_and_changes_nothing(ivr: Ivr) -> None:
    forged = ivr.post(f"/twilio/voice/answer?task={ivr.task_id}", ivr.params("CA1"), token="not-the-token")
    assert forged.status_code == 403
    assert "X-Twilio-Signature" in forged.get_data(as_text=True)
    unsigned = ivr.post(f"/twilio/voice/answer?task={ivr.task_id}", ivr.params("CA1"), sign=False)
    assert unsigned.status_code == 403
    with ivr.session() as s:
        from storage.models import Call

        assert s.query(Call).count() == 0


def test_a_tampered_parameter_breaks_the_signature(ivr: Ivr) -> None:
    ivr.run_to_question()
    form = ivr.params("CA1", Digits="2")
    seq = ivr.call().turn_seq
    signature = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/voice/turn?seq={seq}", form)
    form["Digits"] = "1"
    response = ivr.client.post(f"/twilio/voice/turn?seq={seq}", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert ivr.call().turn_seq == seq


def test_the_signature_is_checked_against_the_public_url_not_the_proxied_one(ivr: Ivr) -> None:
    """Behind a reverse proxy the app sees http://127.0.0.1:8080/...; Twilio signed https://ivr.example.com/..."""
    form = ivr.params("CA1")
    path = f"/twilio/voice/answer?task={ivr.task_id}"
    ivr.place("CA1")
    internal = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", form)
    assert ivr.client.post(path, data=form, headers={"X-Twilio-Signature": internal}).status_code == 403
    public = RequestValidator(TOKEN).compute_signature(f"{BASE}{path}", form)
    assert ivr.client.post(path, data=form, headers={"X-Twilio-Signature": public}).status_code == 200


def test_every_twilio_route_is_guarded(ivr: Ivr) -> None:
    for path in ("/twilio/voice/answer", "/twilio/voice/turn?seq=1", "/twilio/voice/dial?seq=1",
                 "/twilio/voice/message?seq=1", "/twilio/voice/status", "/twilio/recording"):
        assert ivr.post(path, ivr.params("CA1"), sign=False).status_code == 403, path


def test_validation_off_is_allowed_only_with_a_loud_warning(engine: Engine, tmp_path: Path,
                                                            prompt_cache: PromptCache,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    settings = dataclasses.replace(ivr.svc.settings, twilio=dataclasses.replace(ivr.svc.settings.twilio,
                                                                                 validate_signatures=False))
    with caplog.at_level(logging.WARNING):
        app = create_app(dataclasses.replace(ivr.svc, settings=settings))
    assert "TWILIO SIGNATURE VALIDATION IS OFF" in caplog.text
    ivr.place("CA1")
    response = app.test_client().post(f"/twilio/voice/answer?task={ivr.task_id}", data=ivr.params("CA1"))
    assert response.status_code == 200


def test_validation_without_a_token_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="twilio.auth_token is empty.*HUIFANG__TWILIO__AUTH_TOKEN"):
        SignatureCheck("", BASE, enabled=True)
