"""Prompt URLs do not give customers away: a prompt's name is an HMAC under a server secret, so nobody can test
by URL whether "请问您是赵敏女士本人吗？" was rendered; prompts with a customer's details are not publicly
cacheable; every process that renders or serves prompts keys them alike (issue 15)."""

from __future__ import annotations

import hashlib
import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from huifang.speech_wiring import build_prompt_cache
from ivr.harness.media import SilentRenderer
from kit.settings import SpeechSettings
from speech.cache import PromptCache
from tests.ivr.conftest import Ivr


def unsalted_key(text: str, identity: str) -> str:
    """What the name of a prompt file was before: SHA-256 of text, language and voice, computable by anyone."""
    return hashlib.sha256(json.dumps([text, "zh-CN", identity], ensure_ascii=False).encode()).hexdigest()


def played(twiml: ET.Element) -> list[str]:
    return [urlsplit(play.text or "").path for play in twiml.iter("Play")]


def test_a_customers_prompt_cannot_be_found_by_hashing_its_text(ivr: Ivr) -> None:
    twiml = ivr.answer_call()
    greeting = next(e.text for e in ivr.events() if e.kind == "prompt")
    assert "赵敏女士" in greeting
    identity = ivr.svc.prompts.cache.renderer.identity("zh-CN")
    guess = unsalted_key(greeting, identity)
    assert ivr.client.get(f"/prompts/{guess}.wav").status_code == 404
    assert ivr.client.get(f"/prompts/private/{guess}.wav").status_code == 404
    (path,) = played(twiml)
    assert guess not in path
    assert ivr.client.get(path).status_code == 200


def test_personal_prompts_are_never_publicly_cacheable_and_static_ones_are(ivr: Ivr) -> None:
    twimls = [ivr.answer_call(), ivr.ok(ivr.turn(digits="1")), ivr.ok(ivr.turn(digits="0517"))]
    texts = {urlsplit(ivr.svc.prompts.url(e.text, "zh-CN", personal=flag)).path: e.text
             for e in ivr.events() if e.kind == "prompt" for flag in (False, True)}
    personal = static = 0
    for path in (p for twiml in twimls for p in played(twiml)):
        response = ivr.client.get(path)
        assert response.status_code == 200
        cache_control = response.headers.get("Cache-Control", "")
        text = texts[path]
        if "赵" in text or "鑫福年年" in text:  # the applicant's name, the product bought
            personal += 1
            assert "public" not in cache_control, (text, cache_control)
            assert "no-store" in cache_control
        elif path.startswith("/prompts/") and not path.startswith("/prompts/private/"):
            static += 1
            assert "public" in cache_control
    assert personal >= 1
    assert static >= 1


def test_every_process_on_one_prompt_cache_keys_prompts_alike(tmp_path: Path) -> None:
    """The dialer prepares prompts, the web app serves them: both build the cache from the same settings."""
    settings = SpeechSettings(prompt_cache_dir=str(tmp_path / "prompts"))
    dialer, web = build_prompt_cache(settings, SilentRenderer()), build_prompt_cache(settings, SilentRenderer())
    text = "请问您是赵敏女士本人吗？"
    assert dialer.get(text, "zh-CN").key == web.key(text, "zh-CN")
    assert web.key(text, "zh-CN") != unsalted_key(text, SilentRenderer().identity("zh-CN"))
    assert web.key(text, "zh-CN") != PromptCache(tmp_path / "other", SilentRenderer()).key(text, "zh-CN")
    key_files = [p for p in (tmp_path / "prompts").iterdir() if p.suffix == ".key"]
    assert len(key_files) == 1
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    configured = SpeechSettings(prompt_cache_dir=str(tmp_path / "prompts"), prompt_url_secret="s" * 40)
    elsewhere = SpeechSettings(prompt_cache_dir=str(tmp_path / "elsewhere"), prompt_url_secret="s" * 40)
    assert (build_prompt_cache(configured, SilentRenderer()).key(text, "zh-CN")
            == build_prompt_cache(elsewhere, SilentRenderer()).key(text, "zh-CN")
            != web.key(text, "zh-CN"))


def test_a_configured_secret_must_be_long_enough() -> None:
    from huifang.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="speech.prompt_url_secret: must be at least 32 characters"):
        load_settings(environ={"HUIFANG__SPEECH__PROMPT_URL_SECRET": "short"})
