"""Engine behaviour beyond the golden transcripts: limits, state, plans and selection."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from flows.engine import CallerInput, CallState, EngineLimits, Expect, FlowEngine, InputKind
from flows.library import SHIPPED, FlowNotFound, load_library
from flows.model import EndReason
from tests.flows.facts_factory import facts

LIB = load_library()
MESSAGES = LIB.messages["zh-CN"]
YES = CallerInput(InputKind.YES)


def engine(limits: EngineLimits | None = None, **overrides: object) -> FlowEngine:
    policy = facts(**overrides)
    return FlowEngine(LIB.select(policy), policy, MESSAGES, limits)


def past_identity(eng: FlowEngine) -> CallState:
    state, _ = eng.start()
    state, _ = eng.step(state, YES)
    state, turn = eng.step(state, CallerInput(InputKind.DIGITS, digits="0517"))
    assert state.identity_verified
    assert turn.expect is Expect.YES_NO
    return state


class TestPlans:
    def test_the_plan_follows_the_policy(self) -> None:
        regular = engine().plan()
        assert "payment_regular" in regular
        assert "payment_single" not in regular
        assert "insured_signed" not in regular
        assert "elderly_notice" not in regular
        assert "cooling_off_rights" in regular
        assert "read_terms_reminder" not in regular
        other = engine(payment_frequency="single", payment_years=1, insured_is_applicant=False, applicant_age=61,
                       variant="B", channel="bancassurance", bank_name="中国银行", dual_recorded=True).plan()
        assert {"payment_single", "insured_signed", "elderly_notice", "read_terms_reminder", "not_a_deposit",
                "dual_recording_intent"} <= set(other)
        assert "cooling_off_rights" not in other
        assert "purchase_confirm" not in other

    def test_the_script_is_the_plan_written_for_the_policy(self) -> None:
        """What a letter prints: every planned step in order, its text and explanation rendered as the call says
        them (FlowEngine.script)."""
        eng = engine(payment_frequency="single", payment_years=1)
        script = eng.script()
        assert tuple(s.step.id for s in script) == eng.plan()
        single = next(s for s in script if s.step.id == "payment_single")
        assert "{" not in single.text
        assert single.text in eng.prompt_texts()
        assert single.explanation is not None
        assert single.explanation in eng.prompt_texts()
        assert next(s for s in script if s.step.id == "receipt_signed").explanation is None

    def test_each_product_type_gets_its_own_flow(self) -> None:
        for product_type in ("traditional", "participating", "universal", "investment_linked", "health"):
            assert LIB.select(facts(product_type=product_type)).id == product_type

    def test_no_flow_for_an_unknown_product_type(self) -> None:
        with pytest.raises(FlowNotFound):
            LIB.select(facts(product_type="annuity"))

    def test_identity_comes_before_any_policy_fact(self) -> None:
        eng = engine()
        _, first = eng.start()
        spoken = "".join(p.text for p in first.prompts)
        assert eng.facts.product_name not in spoken
        assert "六千" not in spoken


class TestLimits:
    def test_max_reprompts_is_configurable(self) -> None:
        eng = engine(EngineLimits(max_reprompts=0))
        state = past_identity(eng)
        state, turn = eng.step(state, CallerInput(InputKind.UNKNOWN))
        assert turn.keypad_only
        assert state.keypad_only
        state, turn = eng.step(state, CallerInput(InputKind.SILENCE))
        assert turn.end_reason is EndReason.LANGUAGE_BARRIER

    def test_a_keypad_answer_resets_the_reprompt_count(self) -> None:
        eng = engine()
        state = past_identity(eng)
        for _ in range(2):
            state, _ = eng.step(state, CallerInput(InputKind.UNKNOWN))
        state, turn = eng.step(state, CallerInput(InputKind.DIGITS, digits="1"))
        assert state.reprompts == 0
        assert not turn.ended
        assert not turn.keypad_only

    def test_the_turn_limit_stops_a_loop(self) -> None:
        eng = engine(EngineLimits(max_turns=5))
        state = past_identity(eng)
        turn = None
        for _ in range(4):
            state, turn = eng.step(state, CallerInput(InputKind.REPEAT))
        assert turn is not None
        assert turn.end_reason is EndReason.LANGUAGE_BARRIER
        assert turn.prompts[0].step_id == "system.turn_limit"

    def test_identity_attempts_are_configurable(self) -> None:
        eng = engine(EngineLimits(identity_attempts=3))
        state, _ = eng.start()
        state, _ = eng.step(state, YES)
        for _ in range(2):
            state, turn = eng.step(state, CallerInput(InputKind.DIGITS, digits="0000"))
            assert not turn.ended
        state, turn = eng.step(state, CallerInput(InputKind.DIGITS, digits="0000"))
        assert turn.end_reason is EndReason.IDENTITY_FAILED


class TestState:
    def test_state_survives_json_between_webhooks(self) -> None:
        eng = engine()
        state = past_identity(eng)
        restored = CallState.from_dict(json.loads(json.dumps(state.to_dict())))
        assert restored == state
        _, a = eng.step(state, YES)
        _, b = eng.step(restored, YES)
        assert a == b

    def test_an_ended_call_takes_no_more_input(self) -> None:
        eng = engine()
        state, _ = eng.start()
        state, turn = eng.step(state, CallerInput(InputKind.HANGUP))
        assert turn.end_reason is EndReason.HANGUP
        with pytest.raises(ValueError, match="already ended"):
            eng.step(state, YES)

    def test_after_a_handoff_request_only_the_transfer_result_is_accepted(self) -> None:
        eng = engine()
        state = past_identity(eng)
        state, turn = eng.step(state, CallerInput(InputKind.HUMAN))
        assert turn.handoff_topic == "knows_is_insurance"
        assert turn.expect is Expect.NOTHING
        with pytest.raises(ValueError, match="transferred or agent_unavailable"):
            eng.step(state, YES)


class TestHumanFirst:
    def test_a_policy_rule_hands_off_before_the_current_question(self) -> None:
        eng = engine()
        state = past_identity(eng)
        state, turn = eng.hand_off(state)
        assert turn.handoff_topic == "knows_is_insurance"
        assert turn.prompts[0].text == MESSAGES.text("human_first")
        transferred, end = eng.step(state, CallerInput(InputKind.TRANSFERRED))
        assert end.end_reason is EndReason.HANDED_OFF
        assert "knows_is_insurance" not in transferred.answers

    def test_with_nobody_free_the_robot_asks_the_same_question(self) -> None:
        eng = engine()
        state = past_identity(eng)
        step_id = state.plan[state.index]
        state, _ = eng.hand_off(state)
        state, turn = eng.step(state, CallerInput(InputKind.AGENT_UNAVAILABLE))
        assert state.plan[state.index] == step_id
        assert (state.phase, state.handoff_forced) == ("ask", False)
        assert [p.text for p in turn.prompts][0] == MESSAGES.text("human_first_unavailable")
        assert turn.prompts[-1].step_id == step_id
        assert turn.expect is Expect.YES_NO

    def test_never_before_identity(self) -> None:
        eng = engine()
        state, _ = eng.start()
        with pytest.raises(ValueError, match="before identity is verified"):
            eng.hand_off(state)


class TestVersions:
    def test_the_hash_covers_content_not_file_positions(self, tmp_path: Path) -> None:
        copy = tmp_path / "flows"
        shutil.copytree(SHIPPED, copy)
        same = load_library(copy)
        assert same.flows["traditional"].content_hash == LIB.flows["traditional"].content_hash
        closing = copy / "modules" / "closing.yaml"
        closing.write_text("# a comment moves every line\n" + closing.read_text(encoding="utf-8"), encoding="utf-8")
        assert load_library(copy).flows["traditional"].content_hash == LIB.flows["traditional"].content_hash
        closing.write_text(closing.read_text(encoding="utf-8").replace("祝您生活愉快", "祝您身体健康"),
                           encoding="utf-8")
        edited = load_library(copy)
        assert edited.flows["traditional"].content_hash != LIB.flows["traditional"].content_hash
        assert edited.flows["traditional"].version == 1  # the author bumps the version; the hash tells anyway

    def test_snapshot_is_plain_data(self) -> None:
        snapshot = LIB.flows["health"].snapshot()
        assert json.loads(json.dumps(snapshot, default=str))["id"] == "health"
        assert all("line" not in step for step in snapshot["steps"])


def test_facts_never_offer_the_id_number_or_full_phone() -> None:
    from flows.facts import PLACEHOLDERS, PolicyFacts

    names = {f.name for f in dataclasses.fields(PolicyFacts)}
    assert not any("id_no" in n for n in names)
    assert "phone" not in PLACEHOLDERS
    assert "applicant_phone" not in PLACEHOLDERS
    assert facts(phone_last4="13812345678").phone_last4  # even a full number given is cut to the last four
    from flows.facts import PRIVATE_PLACEHOLDERS

    assert PRIVATE_PLACEHOLDERS["phone_last4"](facts(phone_last4="13812345678")) == "五六七八"
