"""Which texts get rendered ahead of time: static ones per flow, and the rest per policy before dialing."""

from __future__ import annotations

import dataclasses
import random
import shutil
from pathlib import Path

import pytest

from flows import speak
from flows.engine import CallerInput, CallState, FlowEngine, InputKind, Turn
from flows.facts import PRIVATE_PLACEHOLDERS, PUBLIC_PLACEHOLDERS, PolicyFacts
from flows.library import SHIPPED, load_library
from flows.prompts import STATIC_PLACEHOLDERS, flow_texts, placeholders, static_texts
from tests.flows.facts_factory import facts

LIB = load_library()
MESSAGES = LIB.messages["zh-CN"]
FLOW_IDS = sorted(LIB.flows)

BANK = {"channel": "bancassurance", "bank_name": "中国银行"}


def engine(**overrides: object) -> FlowEngine:
    policy = facts(**overrides)
    return FlowEngine(LIB.select(policy), policy, MESSAGES)


def engine_for(policy: PolicyFacts, product_type: str) -> FlowEngine:
    policy = dataclasses.replace(policy, product_type=product_type)
    return FlowEngine(LIB.select(policy), policy, MESSAGES)


class TestPlaceholders:
    def test_fields_of_a_text(self) -> None:
        assert placeholders("您好{honorific}，{company_name}") == {"honorific", "company_name"}

    def test_no_fields_and_escaped_braces(self) -> None:
        assert placeholders("请问您清楚吗？") == set()
        assert placeholders("{{hotline}} 与 {premium}") == {"premium"}

    def test_a_repeated_field_counts_once(self) -> None:
        assert placeholders("{insured_name}的签名，是{insured_name}本人") == {"insured_name"}


class TestStaticTexts:
    @pytest.mark.parametrize("flow_id", FLOW_IDS)
    def test_static_texts_are_fully_rendered(self, flow_id: str) -> None:
        texts = static_texts(LIB.flows[flow_id], MESSAGES, "测试人寿", "95519")
        assert texts
        assert not [t for t in texts if "{" in t or "}" in t]
        assert len(texts) == len(set(texts))

    @pytest.mark.parametrize("flow_id", FLOW_IDS)
    def test_texts_with_other_placeholders_are_left_out(self, flow_id: str) -> None:
        flow = LIB.flows[flow_id]
        texts = static_texts(flow, MESSAGES, "测试人寿", "95519")
        per_call = [t for t in flow_texts(flow, MESSAGES) if placeholders(t) - STATIC_PLACEHOLDERS]
        assert per_call, "the shipped flows have per-call texts"
        for text in per_call:
            # the literal part before the first placeholder is long enough to identify the text
            stem = text[: text.index("{")]
            tail = text[text.rindex("}") + 1 :]
            assert not [t for t in texts if t.startswith(stem) and t.endswith(tail)], text
        assert len(texts) == len(flow_texts(flow, MESSAGES)) - len(per_call)

    def test_premium_and_names_never_reach_the_static_set(self) -> None:
        flow = LIB.flows["traditional"]
        joined = "\n".join(static_texts(flow, MESSAGES, "测试人寿", "95519"))
        for fragment in ("请您按时交纳保费", "客服中心，本次通话将全程录音", "一般什么时间方便接听电话",
                         "选择了我公司的", "是一份保险产品"):
            assert fragment not in joined
        for fragment in ("请问您的保险合同收到了吗？", "请问您现在清楚了吗？", "是请按1，不是请按2"):
            assert fragment in joined

    def test_the_hotline_is_read_digit_by_digit(self) -> None:
        texts = static_texts(LIB.flows["traditional"], MESSAGES, "测试人寿", "95519")
        with_hotline = [t for t in texts if "九五五幺九" in t]
        assert len(with_hotline) >= 4  # goodbye, read_documents' explanation and the end messages
        assert not [t for t in texts if "95519" in t]
        assert any(t.startswith("本次回访到此结束") and "客服热线九五五幺九。" in t for t in with_hotline)

    def test_a_formatted_hotline_is_read_the_same_way(self) -> None:
        texts = static_texts(LIB.flows["traditional"], MESSAGES, "测试人寿", "400-888-1234")
        assert any("四零零八八八幺二三四" in t for t in texts)

    def test_the_configured_company_name_is_used(self, tmp_path: Path) -> None:
        # No shipped static text names the company (the greeting also names the applicant), so add one.
        library_dir = tmp_path / "flows"
        shutil.copytree(SHIPPED, library_dir)
        closing = library_dir / "modules" / "closing.yaml"
        closing.write_text(closing.read_text(encoding="utf-8").replace("请拨打我公司客服热线", "请拨打{company_name}客服热线"),
                           encoding="utf-8")
        library = load_library(library_dir)
        assert library.errors == []
        texts = static_texts(library.flows["traditional"], library.messages["zh-CN"], "测试人寿", "95519")
        assert any("请拨打测试人寿客服热线九五五幺九。" in t for t in texts)
        assert not any("汇方人寿" in t for t in texts)

    def test_the_shipped_greeting_naming_the_company_is_per_call(self) -> None:
        texts = static_texts(LIB.flows["traditional"], MESSAGES, "测试人寿", "95519")
        assert not any("测试人寿" in t for t in texts)
        assert any("汇方人寿客服中心" in t for t in engine().prompt_texts())

    def test_static_texts_match_what_a_call_renders(self) -> None:
        """A pre-rendered static prompt is only useful if a call asks the cache for the very same text."""
        eng = engine(company_name="测试人寿", hotline="95519")
        static = static_texts(eng.flow, MESSAGES, "测试人寿", "95519")
        per_call = set(eng.prompt_texts())
        goodbye = [t for t in static if t.startswith("本次回访到此结束")]
        assert goodbye
        assert goodbye[0] in per_call
        assert {t for t in static if t in per_call} >= {MESSAGES.text("reprompt"), MESSAGES.text("keypad_hint")}


def all_conditions() -> list[PolicyFacts]:
    return [
        facts(),
        facts(variant="B", applicant_age=70, dual_recorded=True, insured_is_applicant=False),
        facts(payment_frequency="single", payment_years=1, **BANK),
    ]


class TestPromptTexts:
    def test_the_premium_is_rendered_for_the_policy(self) -> None:
        texts = engine(premium="12345.67").prompt_texts()
        words = speak.amount_words(facts(premium="12345.67").premium)
        assert words == "一万两千三百四十五元六角七分"
        assert any(f"每年交纳保费{words}，交费期限十年" in t for t in texts)
        assert not any("六千元" in t for t in texts)

    def test_a_single_premium_policy_gets_the_single_wording(self) -> None:
        texts = engine(payment_frequency="single", payment_years=1, premium="30000").prompt_texts()
        assert any("一次性交清保费三万元" in t for t in texts)
        assert not any("交费期限" in t for t in texts)

    @pytest.mark.parametrize("flow_id", FLOW_IDS)
    @pytest.mark.parametrize("policy", range(3))
    def test_no_placeholder_is_left(self, flow_id: str, policy: int) -> None:
        base = all_conditions()[policy]
        eng = engine_for(base, flow_id)
        assert eng.flow.id == flow_id
        texts = eng.prompt_texts()
        assert texts
        assert not [t for t in texts if "{" in t or "}" in t]
        assert len(texts) == len(set(texts))

    def test_names_and_hotline_of_the_policy(self) -> None:
        texts = engine(applicant_name="欧阳明", applicant_gender="M", hotline="95519").prompt_texts()
        joined = "\n".join(texts)
        assert "请问您是欧阳明先生本人吗？" in joined
        assert "与欧阳先生联系" in joined
        assert "客服热线九五五幺九" in joined
        assert "4000-123-456" not in joined
        assert "四零零零幺二三四五六" not in joined

    def test_the_bank_only_step_is_left_out_for_an_agency_policy(self) -> None:
        eng = engine(channel="agency")
        assert "not_a_deposit" not in eng.plan()
        joined = "\n".join(eng.prompt_texts())
        assert "而不是银行存款或理财产品" not in joined
        assert "代理销售，并不是银行存款" not in joined  # its explanation
        assert "请问您是否清楚，您购买的鑫福年年终身寿险是一份保险产品？" in joined

    def test_the_agency_step_is_left_out_for_a_bank_policy(self) -> None:
        eng = engine(**BANK)
        joined = "\n".join(eng.prompt_texts())
        assert "请问您是否清楚，您在中国银行购买的鑫福年年终身寿险是一份保险产品，而不是银行存款或理财产品？" in joined
        assert "由中国银行代理销售" in joined
        assert "您购买的鑫福年年终身寿险是一份保险产品？" not in joined
        assert "感谢您通过中国银行选择了我公司的" in joined

    def test_conditional_steps_follow_the_plan(self) -> None:
        plain = "\n".join(engine().prompt_texts())
        other = "\n".join(engine(variant="B", applicant_age=70, dual_recorded=True, insured_is_applicant=False,
                                 insured_name="赵小敏").prompt_texts())
        for fragment in ("我们会放慢语速", "是否接受了录音录像", "请您仔细阅读保险合同条款", "被保险人赵小敏的签名"):
            assert fragment not in plain
            assert fragment in other
        assert "犹豫期是给您考虑" in plain  # variant A's cooling-off explanation
        assert "犹豫期是给您考虑" not in other

    def test_every_engine_message_is_included(self) -> None:
        eng = engine()
        texts = set(eng.prompt_texts())
        assert MESSAGES.text("handoff") in texts
        assert MESSAGES.text("reask") in texts
        assert "好的，我们会另行安排时间与赵女士联系。请问赵女士一般什么时间方便接听电话？请在提示音后说出方便的时间。" in texts

    @pytest.mark.parametrize("seed", range(40))
    def test_everything_a_call_says_was_listed(self, seed: int) -> None:
        """Drive calls with random answers: every prompt spoken must be one of prompt_texts()."""
        rng = random.Random(seed)
        policy = rng.choice(all_conditions())
        product_type = rng.choice(FLOW_IDS)
        eng = engine_for(policy, product_type)
        listed = set(eng.prompt_texts())
        state, turn = eng.start()
        spoken = [p.text for p in turn.prompts]
        while not turn.ended:
            state, turn = eng.step(state, random_input(rng, state, turn))
            spoken += [p.text for p in turn.prompts]
        assert [t for t in spoken if t not in listed] == []


def random_input(rng: random.Random, state: CallState, turn: Turn) -> CallerInput:
    if state.phase == "handoff":
        return CallerInput(rng.choice([InputKind.TRANSFERRED, InputKind.AGENT_UNAVAILABLE]))
    if turn.digits:
        return CallerInput(InputKind.DIGITS, digits=rng.choice(["0517", "0517", "1231"]))
    kinds = [InputKind.YES] * 6 + [InputKind.NO, InputKind.NO, InputKind.UNKNOWN, InputKind.SILENCE,
                                   InputKind.REPEAT, InputKind.HUMAN, InputKind.DIGITS]
    kind = rng.choice(kinds)
    if kind is InputKind.DIGITS:
        return CallerInput(kind, digits=rng.choice(["1", "2", "0", "*", "9"]))
    return CallerInput(kind)


def test_public_and_private_placeholders_do_not_overlap() -> None:
    assert STATIC_PLACEHOLDERS <= set(PUBLIC_PLACEHOLDERS)
    assert not set(PUBLIC_PLACEHOLDERS) & set(PRIVATE_PLACEHOLDERS)
