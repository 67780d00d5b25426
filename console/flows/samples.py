"""The sample policies of the flow studio, and the words a product manager reads for a flow's placeholders and
conditions.

A sample is either synthetic (a fictional applicant, 李明, with the facts the studio's form chooses: the flow's
product type, a channel, an age, a payment frequency…) or a policy from the database that the signed-in user may
see (its facts exactly as a call would take them, `calls.facts.policy_facts`). The prompt audio of the diagram page
is always the synthetic sample's: no real customer's name or sum is rendered for a page that only shows a flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from calls.facts import policy_facts
from console.labels import CHANNEL_ZH, PRODUCT_TYPE_ZH
from flows.facts import PolicyFacts
from flows.model import Flow
from kit.actor import Actor
from kit.calendar import age_on
from kit.settings import QuestionnaireSettings
from storage.models import Agent
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo

SAMPLE_NAME = "李明"
SAMPLE_BIRTHDAY = (3, 15)  # keyed in as 0315
CHANNELS = ("agency", "bancassurance", "telesales", "intermediary", "internet")
FREQUENCIES = {"annual": "年交", "single": "趸交（一次性交清）", "monthly": "月交"}
VARIANTS = {"A": "A 版（犹豫期内回访）", "B": "B 版（犹豫期后回访）"}

# How a placeholder reads in a template shown to people (the diagram and the prompt list).
PLACEHOLDER_ZH = {"company_name": "公司名称", "hotline": "客服热线", "honorific": "先生/女士", "applicant_surname": "投保人姓",
                  "applicant_name": "投保人姓名", "product_name": "产品名称", "premium": "保费", "payment_phrase": "交费方式",
                  "payment_years": "交费年期", "policy_term": "保险期间", "cooling_off_days": "犹豫期天数",
                  "cooling_off_end": "犹豫期截止日", "signed_date": "签收日期", "insured_name": "被保险人姓名",
                  "agent_name": "业务员姓名", "bank_name": "银行名称", "sales_party": "销售人员/银行",
                  "phone_last4": "手机尾号"}
_PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")

# What a step's `when` tests, in words.
FACT_ZH = {"product_type": "险种", "channel": "渠道", "variant": "问卷版本", "payment_frequency": "交费方式",
           "insured_is_applicant": "投保人即被保险人", "dual_recorded": "已双录", "applicant_age": "投保人年龄",
           "has_bank": "有银行网点"}
VALUE_ZH = {"single": "趸交", "annual": "年交", "semiannual": "半年交", "quarterly": "季交", "monthly": "月交",
            True: "是", False: "否", "A": "A 版（犹豫期内）", "B": "B 版（犹豫期后）"}


DEFAULT_WORDS: dict[str, Mapping[str, str]] = {"channel": CHANNEL_ZH, "product_type": PRODUCT_TYPE_ZH}


def template_zh(text: str) -> str:
    """A template as people read it: {policy_term} → 〔保险期间〕."""
    return _PLACEHOLDER.sub(lambda m: f"〔{PLACEHOLDER_ZH.get(m.group(1), m.group(1))}〕", text)


def condition_zh(when: Mapping[str, Any], words: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A step's `when` in words: 仅当 渠道 为 银保；投保人年龄 ≥ 60."""
    if not when:
        return ""
    words = words or DEFAULT_WORDS
    parts: list[str] = []
    for key, expected in when.items():
        name = FACT_ZH.get(key, key)
        say = words.get(key, {})

        def value(v: Any, say: Mapping[str, str] = say) -> str:
            return say.get(str(v)) or VALUE_ZH.get(v, str(v))

        if isinstance(expected, Mapping):
            if "not" in expected:
                excluded = expected["not"] if isinstance(expected["not"], list) else [expected["not"]]
                parts.append(f"{name}不是{'、'.join(value(v) for v in excluded)}")
            if "min" in expected:
                parts.append(f"{name} ≥ {expected['min']}")
            if "max" in expected:
                parts.append(f"{name} ≤ {expected['max']}")
        elif isinstance(expected, list):
            parts.append(f"{name}为{'或'.join(value(v) for v in expected)}")
        else:
            parts.append(f"{name}为{value(expected)}")
    return "仅当" + "，".join(parts)


@dataclass(frozen=True)
class SampleChoice:
    """What the simulator's form chose (kept in the session to rebuild the facts on each request)."""

    variant: str = "A"
    channel: str = "agency"
    age: int = 45
    payment_frequency: str = "annual"
    insured_is_applicant: bool = True
    dual_recorded: bool = False
    policy_no: str = ""  # a policy from the database instead of the synthetic one

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "channel": self.channel, "age": self.age,
                "payment_frequency": self.payment_frequency, "insured_is_applicant": self.insured_is_applicant,
                "dual_recorded": self.dual_recorded, "policy_no": self.policy_no}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SampleChoice:
        return cls(variant=str(data.get("variant", "A")), channel=str(data.get("channel", "agency")),
                   age=int(data.get("age", 45)), payment_frequency=str(data.get("payment_frequency", "annual")),
                   insured_is_applicant=bool(data.get("insured_is_applicant", True)),
                   dual_recorded=bool(data.get("dual_recorded", False)), policy_no=str(data.get("policy_no", "")))


class SampleNotFound(LookupError):
    """No such policy in the user's scope (the page answers 404, as for a policy out of scope)."""


def synthetic_facts(flow: Flow, choice: SampleChoice, today: date, settings: QuestionnaireSettings) -> PolicyFacts:
    """A fictional applicant for `flow`: its first product type, the chosen channel, age, payment and variant."""
    product_type = flow.applies_to.product_types[0] if flow.applies_to.product_types else "traditional"
    channel = choice.channel if not flow.applies_to.channels or choice.channel in flow.applies_to.channels \
        else flow.applies_to.channels[0]
    birthday_passed = (today.month, today.day) >= SAMPLE_BIRTHDAY
    born = date(today.year - choice.age - (not birthday_passed), *SAMPLE_BIRTHDAY)  # exactly `age` today
    signed = today - timedelta(days=3)
    single = choice.payment_frequency == "single"
    return PolicyFacts(
        applicant_name=SAMPLE_NAME, applicant_gender="M", applicant_birth_date=born, applicant_age=age_on(born, today),
        insured_name=SAMPLE_NAME if choice.insured_is_applicant else "李小雨", insured_is_applicant=choice.insured_is_applicant,
        product_name="汇方福寿安康终身寿险", product_type=product_type, channel=channel,
        premium=Decimal("30000") if single else Decimal("6000"), payment_frequency=choice.payment_frequency,
        payment_years=1 if single else 10, policy_term_years=None, receipt_signed_date=signed, cooling_off_days=15,
        cooling_off_end=signed + timedelta(days=15), dual_recorded=choice.dual_recorded, variant=choice.variant,
        agent_name="张建国", bank_name="汇方银行朝阳支行" if channel == "bancassurance" else None, phone_last4="8888",
        company_name=settings.company_name, hotline=settings.hotline)


def database_facts(db: Session, actor: Actor, choice: SampleChoice, today: date,
                   settings: QuestionnaireSettings) -> PolicyFacts:
    """A stored policy's facts as its call would take them (through the actor's scope), with the chosen variant."""
    policy = policy_repo.by_number(db, choice.policy_no.strip(), actor=actor)
    task = task_repo.for_policy(db, policy.id) if policy is not None else None
    if policy is None or task is None:
        raise SampleNotFound(choice.policy_no)
    agent = db.get(Agent, policy.agent_id)
    assert agent is not None  # a foreign key
    try:
        facts = policy_facts(policy, task, agent, today, settings)
    except ValueError as exc:
        raise SampleNotFound(str(exc)) from exc
    return replace(facts, variant=choice.variant)


def sample_facts(db: Session | None, actor: Actor, flow: Flow, choice: SampleChoice, today: date,
                 settings: QuestionnaireSettings) -> PolicyFacts:
    if choice.policy_no.strip():
        if db is None:
            raise SampleNotFound(choice.policy_no)
        return database_facts(db, actor, choice, today, settings)
    return synthetic_facts(flow, choice, today, settings)
