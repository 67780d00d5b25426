"""The flow studio's reads: the configured flows directory as `huifang flows check` reads it (every request: an
author who edits a file sees it on the next reload), each flow's summary, and its prompts as text and audio.

Audio is the prompt cache's (speech.cache), the same WAV files a call plays: a prompt of the diagram page is
rendered for the synthetic sample applicant (placeholders filled with fictional values, so no customer's data
is rendered for a page that only shows a flow); a prompt of a simulation for its sample (a stored policy's when
one was chosen). The audio route serves only the keys of those texts, never any other file of the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from console.flows.samples import FREQUENCIES, SampleChoice, condition_zh, synthetic_facts, template_zh
from console.labels import CHANNEL_ZH, PRODUCT_TYPE_ZH, ROLE_ZH, TOPIC_ZH
from flows.engine import FlowEngine
from flows.facts import PolicyFacts, placeholder_values
from flows.library import FlowLibrary, configured_path, load_library
from flows.model import Flow, StepKind
from flows.speak import for_reading
from kit.actor import Role
from kit.settings import Settings
from speech.cache import PromptCache

STUDIO = frozenset({Role.SUPERVISOR, Role.ADMIN})
STUDIO_ZH = "、".join(ROLE_ZH[r] for r in sorted(STUDIO))
KIND_ZH = {"say": "播报", "ask": "提问", "verify_birthday": "身份核实", "explanation": "解释", "system": "系统提示语"}
MESSAGE_ZH = {"reprompt": "没听清", "keypad_only": "改用按键", "keypad_hint": "按键提示", "reask": "解释后再问",
              "identity_retry": "身份核实重试", "end_identity_failed": "结束：身份核实不通过",
              "end_applicant_absent": "结束：本人不在", "end_not_received": "结束：未收到合同", "end_refused": "结束：拒访",
              "end_language_barrier": "结束：语言沟通不畅", "handoff": "转人工", "agent_unavailable": "人工未接通",
              "human_first": "按规则转人工", "human_first_unavailable": "按规则转人工但未接通",
              "turn_limit": "通话轮次超限", "end_link_requested": "改用短信链接"}


def flows_dir(settings: Settings) -> Path:
    return configured_path(settings.questionnaire.flows_path)


def library(settings: Settings) -> FlowLibrary:
    return load_library(flows_dir(settings))


@dataclass(frozen=True)
class FlowRow:
    flow: Flow
    applies: list[str]  # who gets it, in words
    conditions: list[str]  # the steps that run only for some policies: "cooling_off_rights：仅当问卷版本为 A 版"
    variants: list[str]
    running: str  # whether the running service has this content ("" when the console has no call context)


def applies_zh(flow: Flow) -> list[str]:
    a = flow.applies_to
    words = []
    if a.product_types:
        words.append("险种：" + "、".join(PRODUCT_TYPE_ZH.get(p, p) for p in a.product_types))
    if a.channels:
        words.append("渠道：" + "、".join(CHANNEL_ZH.get(c, c) for c in a.channels))
    if a.variants:
        words.append("问卷版本：" + "、".join(a.variants))
    if a.min_age is not None or a.max_age is not None:
        words.append(f"年龄：{a.min_age if a.min_age is not None else ''}–{a.max_age if a.max_age is not None else ''}")
    if a.dual_recorded is not None:
        words.append("已双录" if a.dual_recorded else "未双录")
    return words or ["全部保单"]


def rows(lib: FlowLibrary, running: FlowLibrary | None) -> list[FlowRow]:
    out = []
    for flow in sorted(lib.flows.values(), key=lambda f: f.id):
        variants = sorted({str(v) for s in flow.steps for v in _listed(s.when.get("variant"))}) or ["A", "B"]
        state = ""
        if running is not None:
            served = running.flows.get(flow.id)
            state = ("运行中" if served is not None and served.content_hash == flow.content_hash
                     else "已修改，重启服务后生效" if served is not None else "新流程，重启服务后生效")
        out.append(FlowRow(flow, applies_zh(flow), [f"{s.id}：{condition_zh(s.when)}" for s in flow.steps if s.when],
                           variants, state))
    return out


def _listed(value: object) -> list[object]:
    if value is None or isinstance(value, dict):
        return []
    return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class PromptLine:
    anchor: str  # the element id the diagram's boxes play (prompt-<step>, explain-<step>, message-<name>)
    step: str
    kind: str
    topic: str
    template: str  # as people read it: placeholders as words
    spoken: str  # rendered for the sample (the audio's text)
    reading: str  # the same as a reader sees it (the hotline written as digits)
    personal: bool


def sample(flow: Flow, settings: Settings, today: date) -> PolicyFacts:
    return synthetic_facts(flow, SampleChoice(), today, settings.questionnaire)


def prompt_lines(flow: Flow, lib: FlowLibrary, facts: PolicyFacts, hotline: str) -> list[PromptLine]:
    """Every text of the flow: each step's prompt and explanation, then the engine's own messages."""
    values = placeholder_values(facts)
    lines: list[PromptLine] = []

    def add(anchor: str, step: str, kind: str, topic: str, text: str) -> None:
        spoken = text.format_map(values)
        lines.append(PromptLine(anchor, step, kind, topic, template_zh(text), spoken, for_reading(spoken, hotline),
                                "{" in text))

    for s in flow.steps:
        topic = TOPIC_ZH.get(s.topic.value, s.topic.value) if s.topic else ""
        add(f"prompt-{s.id}", s.id, s.kind.value if s.kind is not StepKind.ASK else "ask", topic, s.text)
        if s.explain:
            add(f"explain-{s.id}", s.id, "explanation", topic, s.explain)
    for name, text in lib.messages[flow.language].texts.items():
        add(f"message-{name}", name, "system", MESSAGE_ZH.get(name, name), text)
    return lines


def audio_texts(flow: Flow, lib: FlowLibrary, facts: PolicyFacts) -> list[str]:
    return [line.spoken for line in prompt_lines(flow, lib, facts, "")]


def simulation_texts(engine: FlowEngine) -> list[str]:
    return engine.prompt_texts()


def find_text(cache: PromptCache, key: str, texts: Iterable[str], language: str) -> str | None:
    """The text among `texts` whose audio is `key` (the only keys the studio serves)."""
    return next((t for t in texts if cache.key(t, language) == key), None)


FREQUENCY_CHOICES = FREQUENCIES
