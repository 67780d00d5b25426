"""Prompt URLs for <Play>: prepared prompts cost a hash; a prompt missing at webhook time is rendered once
and counted once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.harness.media import SilentRenderer
from ivr.prompts import PromptIndex
from speech.audio import Audio
from speech.cache import PromptCache

BASE = "https://ivr.example.com"


class CountingRenderer(SilentRenderer):
    def __init__(self) -> None:
        self.rendered: list[str] = []

    def render(self, text: str, language: str) -> Audio:
        self.rendered.append(text)
        return super().render(text, language)


def test_a_prepared_prompt_is_not_rendered_again(tmp_path: Path) -> None:
    renderer = CountingRenderer()
    index = PromptIndex(PromptCache(tmp_path, renderer), BASE)
    assert index.prepare(["您好", "再见"], "zh-CN") == 2
    first = index.url("您好", "zh-CN")
    assert index.url("您好", "zh-CN") == first
    assert first.startswith(f"{BASE}/prompts/")
    assert first.endswith(".wav")
    assert (renderer.rendered, index.late_renders) == (["您好", "再见"], 0)
    key = first.rsplit("/", 1)[1].removesuffix(".wav")
    assert index.file(key) is not None


def test_a_late_prompt_is_rendered_once_and_counted_once(tmp_path: Path) -> None:
    renderer = CountingRenderer()
    index = PromptIndex(PromptCache(tmp_path, renderer), BASE)
    urls = {index.url("请稍等", "zh-CN") for _ in range(3)}
    assert len(urls) == 1
    assert (renderer.rendered, index.late_renders) == (["请稍等"], 1)
    assert index.file("0" * 64) is None
    assert index.file("not-a-key") is None


def test_the_memory_of_rendered_prompts_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ivr.prompts

    monkeypatch.setattr(ivr.prompts, "ON_DISK_KEYS", 2)
    renderer = CountingRenderer()
    index = PromptIndex(PromptCache(tmp_path, renderer), BASE)
    index.prepare(["一", "二", "三"], "zh-CN")
    urls = [index.url(text, "zh-CN") for text in ("一", "二", "三", "一")]
    assert len(set(urls)) == 3
    assert len(index._on_disk) <= 2
    assert (len(renderer.rendered), index.late_renders) == (3, 0)  # forgetting a key never re-renders it
