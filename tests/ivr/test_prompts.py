"""Prompt URLs for <Play>: prepared prompts cost a hash (no TTS engine needed); a prompt missing at webhook
time is rendered once and counted once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ivr.harness.media import SilentRenderer
from ivr.prompts import PromptIndex
from speech import tts
from speech.audio import Audio, write_wav
from speech.cache import PromptCache
from speech.tts import ENGINE_RECORD, EspeakTts, TtsUnavailable
from tests.threads import run_together

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


# -- a web host without espeak-ng: prompts rendered before dialing are served from the engine record ----------

TEXTS = ("您好，这里是汇方人寿。", "请问您是投保人本人吗？", "再见")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Prompts rendered by the real espeak-ng, as `huifang prompts render` or the dialer's prepare does."""
    root = tmp_path_factory.mktemp("prompts")
    index = PromptIndex(PromptCache(root, EspeakTts(engine_record=root / ENGINE_RECORD)), BASE)
    assert index.prepare(TEXTS, "zh-CN") == len(TEXTS)
    return root, {text: index.url(text, "zh-CN") for text in TEXTS}


@pytest.fixture
def no_tts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This process as a fresh web worker on a host without espeak-ng: no TTS worker has greeted, starting
    one fails (each attempt is counted), and importing pyttsx3 raises ImportError."""
    starts: list[str] = []

    class RefusedWorker:
        def __init__(self) -> None:
            starts.append("start")
            raise TtsUnavailable("test: this host has no espeak-ng")

    monkeypatch.setattr(tts, "_Worker", RefusedWorker)
    monkeypatch.setattr(tts, "_worker", None)
    monkeypatch.setattr(tts, "_version", None)
    for name in ("pyttsx3", "pyttsx3.drivers", "pyttsx3.drivers._espeak"):
        monkeypatch.setitem(sys.modules, name, None)
    return starts


def fresh_index(root: Path) -> PromptIndex:
    return PromptIndex(PromptCache(root, EspeakTts(engine_record=root / ENGINE_RECORD)), BASE)


def test_a_fresh_index_serves_rendered_prompts_without_the_tts_engine(
        rendered: tuple[Path, dict[str, str]], no_tts: list[str]) -> None:
    root, urls = rendered
    index = fresh_index(root)
    assert {text: index.url(text, "zh-CN") for text in urls} == urls
    assert (no_tts, index.late_renders) == ([], 0)


def test_many_threads_on_a_fresh_index_get_the_same_urls_and_start_nothing(
        rendered: tuple[Path, dict[str, str]], no_tts: list[str]) -> None:
    root, urls = rendered
    index = fresh_index(root)
    seen: list[dict[str, str]] = []
    errors = run_together(8, lambda _n: seen.append({text: index.url(text, "zh-CN") for text in urls}))
    assert errors == []
    assert seen == [urls] * 8
    assert (no_tts, index.late_renders, len(index._on_disk)) == ([], 0, len(urls))


def test_only_a_missing_prompt_asks_for_the_engine(rendered: tuple[Path, dict[str, str]], no_tts: list[str]) -> None:
    root, urls = rendered
    index = fresh_index(root)
    with pytest.raises(TtsUnavailable, match="no espeak-ng"):
        index.url("这一句没有预先生成", "zh-CN")
    assert no_tts == ["start"]
    assert [index.url(text, "zh-CN") for text in urls] == list(urls.values())
    assert no_tts == ["start"]


def _place(root: Path, text: str) -> str:
    """A prompt rendered by another process with the engine the record names now; returns its key."""
    cache = PromptCache(root, EspeakTts(engine_record=root / ENGINE_RECORD))
    prompt_path = cache.path_for(cache.key(text, "zh-CN"))
    prompt_path.parent.mkdir(parents=True, exist_ok=True)
    prompt_path.write_bytes(write_wav(SilentRenderer().render(text, "zh-CN")))
    return prompt_path.stem


def test_a_record_moved_on_by_an_upgraded_renderer_is_read_again_before_rendering(
        tmp_path: Path, no_tts: list[str]) -> None:
    record = tmp_path / ENGINE_RECORD
    record.write_text(json.dumps({"engine": "pyttsx3 2.99, espeak-ng 1.51"}), encoding="utf-8")
    before = _place(tmp_path, "您好")
    index = fresh_index(tmp_path)
    assert index.url("您好", "zh-CN") == f"{BASE}/prompts/{before}.wav"
    record.write_text(json.dumps({"engine": "pyttsx3 2.99, espeak-ng 1.52"}), encoding="utf-8")
    after = _place(tmp_path, "再见")  # rendered by the upgraded engine after this index read the record
    assert index.url("再见", "zh-CN") == f"{BASE}/prompts/{after}.wav"
    assert (no_tts, index.late_renders) == ([], 0)
