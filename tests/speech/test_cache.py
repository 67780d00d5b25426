"""The content-addressed prompt cache: render once, reuse, never leave half a file behind."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from speech import cache as cache_module
from speech.audio import Audio, read_wav
from speech.cache import CachedPrompt, PromptCache
from tests.threads import run_together


class FakeRenderer:
    """Counts renders; the audio depends on the text so different prompts give different files."""

    def __init__(self, voice: str = "zh", rate: int = 180, delay: float = 0.0) -> None:
        self.voice = voice
        self.rate = rate
        self.delay = delay
        self.calls: list[tuple[str, str]] = []
        self.fail: Exception | None = None
        self._lock = threading.Lock()

    def identity(self, language: str) -> str:
        return f"fake:{self.voice}:{language}:rate={self.rate}"

    def render(self, text: str, language: str) -> Audio:
        with self._lock:
            self.calls.append((text, language))
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        samples = np.array([len(text), 100, -100, first_char(text)], dtype=np.int16)
        return Audio(samples, 8000)


def first_char(text: str) -> int:
    return ord(text[0]) % 10000 if text else 0


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def renderer() -> FakeRenderer:
    return FakeRenderer()


@pytest.fixture
def cache(tmp_path: Path, renderer: FakeRenderer) -> PromptCache:
    return PromptCache(tmp_path / "prompts", renderer)


def test_first_get_renders_a_readable_wav(cache: PromptCache, renderer: FakeRenderer) -> None:
    prompt = cache.get("您好", "zh-CN")
    assert prompt.rendered
    assert renderer.calls == [("您好", "zh-CN")]
    assert prompt.path.is_file()
    assert prompt.filename == f"{prompt.key}.wav"
    assert prompt.path == cache.root / prompt.key[:2] / f"{prompt.key}.wav"
    audio = read_wav(prompt.path.read_bytes())
    assert audio.rate == 8000
    assert audio.samples.tolist() == [2, 100, -100, first_char("您")]
    assert files_in(cache.root) == [prompt.path]


def test_second_get_reuses_the_file(cache: PromptCache, renderer: FakeRenderer) -> None:
    first = cache.get("您好", "zh-CN")
    content = first.path.read_bytes()
    mtime = first.path.stat().st_mtime_ns
    second = cache.get("您好", "zh-CN")
    assert not second.rendered
    assert second.path == first.path
    assert second.key == first.key
    assert len(renderer.calls) == 1
    assert first.path.read_bytes() == content
    assert first.path.stat().st_mtime_ns == mtime


def test_a_new_cache_on_the_same_directory_finds_the_file(tmp_path: Path) -> None:
    first = PromptCache(tmp_path, FakeRenderer()).get("您好", "zh-CN")
    other_renderer = FakeRenderer()
    again = PromptCache(tmp_path, other_renderer).get("您好", "zh-CN")
    assert not again.rendered
    assert again.path == first.path
    assert other_renderer.calls == []


def test_the_key_is_a_sha256_hex_digest(cache: PromptCache) -> None:
    key = cache.key("您好", "zh-CN")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert cache.key("您好", "zh-CN") == key


def test_text_language_and_renderer_identity_each_change_the_key(cache: PromptCache,
                                                                 renderer: FakeRenderer) -> None:
    base = cache.get("您好", "zh-CN")
    other_text = cache.get("您好。", "zh-CN")
    other_language = cache.get("您好", "ko-KR")
    renderer.rate = 150
    other_rate = cache.get("您好", "zh-CN")
    renderer.rate, renderer.voice = 180, "zh+f2"
    other_voice = cache.get("您好", "zh-CN")
    prompts = [base, other_text, other_language, other_rate, other_voice]
    assert all(p.rendered for p in prompts)
    assert len({p.key for p in prompts}) == 5
    assert len({p.path for p in prompts}) == 5
    assert len(files_in(cache.root)) == 5
    renderer.voice = "zh"
    assert not cache.get("您好", "zh-CN").rendered


def test_keys_do_not_collide_on_joined_fields(cache: PromptCache) -> None:
    # naive concatenation would make ("ab", "c") and ("a", "bc") the same key
    assert cache.key("ab", "c") != cache.key("a", "bc")


@pytest.mark.parametrize(
    "key",
    ["../x", "", "0" * 63, "0" * 65, "A" * 64, "g" * 64, "../" + "0" * 61, "0" * 62 + "/x", "0" * 63 + "\n"],
)
def test_path_for_rejects_anything_but_a_key(cache: PromptCache, key: str) -> None:
    with pytest.raises(ValueError, match="not a prompt key"):
        cache.path_for(key)


def test_path_for_stays_inside_the_root(cache: PromptCache) -> None:
    key = "ab" + "0" * 62
    path = cache.path_for(key)
    assert path == cache.root / "ab" / f"{key}.wav"
    assert path.resolve().is_relative_to(cache.root.resolve())


def test_a_failed_render_leaves_nothing(cache: PromptCache, renderer: FakeRenderer) -> None:
    renderer.fail = RuntimeError("espeak-ng exited 1")
    with pytest.raises(RuntimeError, match="espeak-ng exited 1"):
        cache.get("您好", "zh-CN")
    assert not cache.root.exists() or files_in(cache.root) == []
    renderer.fail = None
    assert cache.get("您好", "zh-CN").rendered


def test_a_failed_write_removes_the_temporary_file(cache: PromptCache, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: str, dst: str) -> None:
        assert Path(src).is_file()  # the temporary file exists at this point
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.get("您好", "zh-CN")
    assert files_in(cache.root) == []


def test_concurrent_gets_leave_one_complete_file(tmp_path: Path) -> None:
    renderer = FakeRenderer(delay=0.02)
    cache = PromptCache(tmp_path / "prompts", renderer)
    results: list[CachedPrompt] = []
    errors = run_together(8, lambda _n: results.append(cache.get("请问您是本人吗？", "zh-CN")), timeout_s=10)
    assert errors == []
    assert len(results) == 8
    paths = {r.path for r in results}
    assert len(paths) == 1
    path = paths.pop()
    assert files_in(cache.root) == [path]
    assert read_wav(path.read_bytes()).samples.tolist() == [8, 100, -100, first_char("请")]
    assert len(renderer.calls) >= 1
