"""Simulated calls through the real webhooks: persona in, transcript, result class and cases out."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ivr.capture import RecordCapture
from ivr.harness.local import LocalHarness
from ivr.harness.media import InjectedRecognizer, SilentRenderer
from ivr.harness.persona import persona_from
from ivr.harness.sids import CALL, mint
from speech.cache import PromptCache
from storage.models import CallbackTask, Policy
from tests.ivr.conftest import build_ivr, text_mode_harness


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> tuple[LocalHarness, str]:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    return text_mode_harness(ivr), ivr.policy_no


def call(harness: tuple[LocalHarness, str], **persona: Any) -> dict[str, Any]:
    local, policy_no = harness
    return local.call(policy_no, persona_from(persona, "test persona"))


@pytest.mark.parametrize("mode", ["text", "dtmf"])
def test_all_yes_is_standard(harness: tuple[LocalHarness, str], mode: str) -> None:
    result = call(harness, mode=mode)
    assert (result["status"], result["outcome"], result["result_class"]) == ("completed", "completed", "standard")
    assert result["flow"] == {"id": "traditional", "version": 1}
    assert result["cases"] == []
    robot = [t for t in result["transcript"] if t["who"] == "robot"]
    assert robot[0]["text"].startswith("您好，这里是汇方人寿客服中心")
    callers = [t for t in result["transcript"] if t["who"] == "caller"]
    assert callers[1]["digits"] == "0517"  # identity by keypad in every mode
    assert set(result["answers"].values()) == {"yes"}
    local, _ = harness
    with local.services.sessions() as session:
        from storage.models import Recording

        stored = session.query(Recording).one()
        assert stored.status.value == "stored"
        assert stored.sha256 is not None


def test_no_then_yes_is_sub_standard(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, answers={"default": "yes", "understand_coverage": "no-then-yes"})
    assert result["answers"]["understand_coverage"] == "clarified"
    assert result["result_class"] == "sub_standard"
    assert "unclear_coverage" in result["reason_codes"]


def test_a_no_that_stays_goes_to_an_agent_and_is_a_problem(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, answers={"default": "yes", "understand_coverage": "no"})
    assert result["handoff"] is True
    assert result["end_reason"] == "handed_off"
    assert result["result_class"] == "problem"
    assert [c["type"] for c in result["cases"]] == ["first_explanation_case"]


def test_the_wrong_birthday_is_identity_failed(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, identity="wrong")
    assert (result["end_reason"], result["result_class"]) == ("identity_failed", "verification")
    assert [c["type"] for c in result["cases"]] == ["verification_case"]


def test_someone_else_answers(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, identity="absent")
    assert result["end_reason"] == "applicant_absent"
    assert result["cases"] == []  # called again later


@pytest.mark.parametrize(("pickup", "outcome"), [("busy", "busy"), ("no-answer", "no_answer"),
                                                 ("failed", "failed"), ("machine", "machine")])
def test_contact_failures(harness: tuple[LocalHarness, str], pickup: str, outcome: str) -> None:
    result = call(harness, pickup=pickup)
    assert result["outcome"] == outcome
    assert result["result_class"] is None
    assert result["transcript"] == []


def test_hanging_up_after_a_topic(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, hangup_after="policy_received")
    assert (result["outcome"], result["end_reason"]) == ("hangup", "hangup")
    assert result["result_class"] == "verification"


def test_silence_throughout_ends_as_a_communication_problem(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, answers={"default": "silence", "identity": "yes"})
    assert result["end_reason"] == "language_barrier"
    assert [c["type"] for c in result["cases"]] == ["dialect_case"]


def test_asking_for_a_person(harness: tuple[LocalHarness, str]) -> None:
    result = call(harness, answers={"default": "yes", "knows_is_insurance": "human"})
    assert result["handoff"] is True
    assert result["answers"]["knows_is_insurance"] == "human_requested"


def test_over_real_http_to_a_wsgi_server_on_loopback(engine: Engine, tmp_path: Path,
                                                     prompt_cache: PromptCache) -> None:
    import threading

    from werkzeug.serving import make_server

    ivr = build_ivr(engine, tmp_path, prompt_cache)
    injected = InjectedRecognizer()
    capture = ivr.svc.capture
    assert isinstance(capture, RecordCapture)
    ivr.svc.capture = dataclasses.replace(capture, recognizer=injected)
    server = make_server("127.0.0.1", 0, ivr.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        local = LocalHarness.build(ivr.svc, ivr.app, injected, server_url=f"http://127.0.0.1:{server.server_port}")
        result = local.call(ivr.policy_no, persona_from({"answers": {"default": "yes", "payment_terms": "no-then-yes"}},
                                                        "p"))
    finally:
        server.shutdown()
    assert result["result_class"] == "sub_standard"
    assert result["answers"]["payment_terms"] == "clarified"


def test_a_confirming_callback_that_is_still_unclear_opens_a_second_explanation(
        harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    from cases.service import NewCase, open_cases
    from flows.vocab import CaseType
    from kit.vocab import CaseStatus
    from storage.models import CallbackTask, Case, Policy

    with local.services.sessions() as session, session.begin():  # the branch explained; this call confirms it
        task = session.query(CallbackTask).one()
        policy = session.get(Policy, task.policy_id)
        assert policy is not None
        open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, CaseType.FIRST_EXPLANATION_CASE,
                                     "unclear_coverage", "d")],
                   now=local.services.clock.now(), settings=local.services.settings.cases,
                   calendar=local.services.calendar)
        first = session.query(Case).one()
        first.status = CaseStatus.CLOSED
        task.confirming_case_id = first.id
    result = local.call(policy_no, persona_from({"answers": {"default": "yes", "understand_coverage": "no"}}, "p"))
    assert [c["type"] for c in result["cases"]] == ["second_explanation_case"]
    with local.services.sessions() as session:
        assert session.query(CallbackTask).one().confirming_case_id is None


LATE_PROMPT = "prompt rendered inside a webhook (not prepared before dialing)"
PERSONAS = [{}, {"mode": "dtmf", "answers": {"default": "yes", "understand_coverage": "no-then-yes"}},
            {"answers": {"default": "silence", "identity": "yes"}}, {"identity": "wrong"}, {"identity": "absent"},
            {"answers": {"default": "yes", "knows_is_insurance": "human"}}]


@pytest.fixture
def unrendered(engine: Engine, tmp_path: Path) -> tuple[LocalHarness, str]:
    """A harness whose prompt cache is empty: nothing rendered by an earlier test or call."""
    ivr = build_ivr(engine, tmp_path, PromptCache(tmp_path / "prompts", SilentRenderer()))
    return text_mode_harness(ivr), ivr.policy_no


@pytest.mark.parametrize("persona", PERSONAS, ids=["yes", "doubter", "silent", "stranger", "absent", "agent"])
def test_a_simulated_call_prepares_its_prompts_as_the_dialer_does(unrendered: tuple[LocalHarness, str],
                                                                  persona: dict[str, Any],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Reported: `simulate call` warned of a prompt rendered inside a webhook for every prompt it played."""
    local, policy_no = unrendered
    with caplog.at_level(logging.WARNING):
        result = local.call(policy_no, persona_from(persona, "p"))
    assert [t for t in result["transcript"] if t["who"] == "robot"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert local.services.prompts.late_renders == 0


def test_a_call_whose_prompts_were_not_prepared_still_warns(unrendered: tuple[LocalHarness, str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The warning keeps its meaning: a call placed without its prompts prepared (here Twilio's part played
    without the dialer's) renders them inside the webhooks, and says so, once per prompt."""
    local, policy_no = unrendered
    with local.services.sessions() as session:
        task_id, phone = session.execute(select(CallbackTask.id, Policy.applicant_phone).join(Policy)
                                         .where(Policy.policy_no == policy_no)).one()
    call_sid = mint(CALL)
    local.place(task_id, call_sid, phone)  # placed, as the dialer registers a call; prompts not prepared
    with caplog.at_level(logging.WARNING, logger="ivr.prompts"):
        log = local.simulator.run(task_id, call_sid, phone, persona_from({}, "p"))
    late = [r.getMessage() for r in caplog.records if r.getMessage().startswith(LATE_PROMPT)]
    assert late
    assert len(late) == len(set(late)) == local.services.prompts.late_renders
    assert len(late) == len(set(log.played))  # every prompt played was rendered late, each once


def test_a_test_call_on_a_finished_task_that_asks_for_another_leaves_the_task_as_it_is(
        harness: tuple[LocalHarness, str]) -> None:
    """Simulated calls one after another on one policy: once its task is finished, a call that would ask for
    another attempt (someone else answers) keeps its own result and leaves the task alone (it answered 500:
    a retry is not a transition a completed task can take)."""
    local, _ = harness
    assert call(harness)["result_class"] == "standard"
    absent = call(harness, identity="absent")
    assert (absent["result_class"], absent["reason_codes"]) == ("verification", ["applicant_absent"])
    with local.services.sessions() as session:
        task = session.scalars(select(CallbackTask)).one()
        assert (task.status.value, task.result_class, task.next_attempt_at) == ("completed", "standard", None)
