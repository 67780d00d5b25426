"""A supervisor opens the flow studio in real Chromium, reads a flow's diagram, plays a prompt, and simulates
a call with the answer buttons and keys until its result. Screenshots: docs/screenshots/flow-diagram.png and
flow-simulator.png with HUIFANG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine

from tests.console.test_browser import SCREENSHOTS, _sign_in
from tests.console.test_flow_studio import _counts
from tests.console.test_flow_studio import studio as studio  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.browser


def _publish(page: Page, tmp_path: Path, name: str) -> None:
    """The screen as it is now (1366×768) under the tmp dir, and to docs/screenshots/ when asked."""
    page.screenshot(path=str(tmp_path / f"{name}.png"))
    page.screenshot(path=str(tmp_path / f"{name}-full.png"), full_page=True)
    if os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _answered(page: Page, button: Locator) -> None:
    """Press an answer and wait for the page it posts to (POST, redirect, the new turn): a button looked up
    before that page has loaded would be the last page's, and its click lost."""
    with page.expect_navigation():
        button.click()


def test_a_supervisor_reads_a_flow_and_simulates_a_call_to_its_result(
        page: Page, studio: Flask, live_console: str, engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    before = _counts(engine)
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="流程工作室").click()
    expect(page.get_by_role("heading", name="流程工作室")).to_be_visible()
    expect(page.get_by_text("全部流程检查通过")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="传统型产品新契约回访问卷")
    row.get_by_role("link", name="流程图").click()

    diagram = page.get_by_role("img", name="传统型产品新契约回访问卷 流程图")
    expect(diagram).to_be_visible()
    expect(diagram.locator("[data-step='read_documents'][data-node='explain']")).to_contain_text("保险条款")
    page.evaluate("() => { window.scrollTo(0, document.querySelector('section.diagram').offsetTop - 8);"
                  " const box = document.querySelector(\"[data-step='purchase_confirm'] rect\");"
                  " document.querySelector('.svg-scroll').scrollTop = box.getAttribute('y') - 16; }")
    _publish(page, tmp_path, "flow-diagram")

    page.get_by_role("button", name="播放 greeting").click()  # the greeting's audio, from the prompt cache
    expect(page.locator("tr#prompt-greeting")).to_have_class("playing")
    page.wait_for_function("() => { const a = document.getElementById('player');"  # it plays (silence, here)
                           " return a.src.includes('/console/flows/traditional/audio/') && (a.currentTime > 0 || a.ended); }")

    page.get_by_role("link", name="模拟通话").first.click()
    setup = page.get_by_role("form", name="开始模拟")
    setup.get_by_label("A 版（犹豫期内回访）").check()
    setup.get_by_label("渠道").select_option(label="个险")
    setup.get_by_role("button", name="开始模拟").click()
    call = page.get_by_role("region", name="模拟通话")
    expect(call).to_contain_text("请问您是李明先生本人吗")
    voice = call.get_by_role("group", name="语音回答")
    _answered(page, voice.get_by_role("button", name="是"))
    call.get_by_label("按键").fill("0315")
    _answered(page, call.get_by_role("button", name="发送按键"))
    expect(call).to_contain_text("感谢您")
    for _ in range(5):  # purchase_confirm, policy_received, receipt_signed, signed_in_person, truthful_disclosure
        _answered(page, page.get_by_role("group", name="语音回答").get_by_role("button", name="是"))
    expect(call).to_contain_text("请问您是否已经阅读了保险条款")
    _answered(page, page.get_by_role("group", name="语音回答").get_by_role("button", name="否"))
    expect(call).to_contain_text("请问您现在清楚了吗")
    _answered(page, page.get_by_role("group", name="语音回答").get_by_role("button", name="否"))
    _answered(page, page.get_by_role("button", name="坐席未接通"))
    expect(call).to_contain_text("我们继续本次回访")
    call.get_by_label("按键").fill("1")  # understand_coverage by key: 1 is yes
    _answered(page, call.get_by_role("button", name="发送按键"))
    for _ in range(4):  # payment_regular, surrender_loss, cooling_off_rights, satisfaction
        _answered(page, page.get_by_role("group", name="语音回答").get_by_role("button", name="是"))

    result = page.get_by_role("region", name="回访结果")
    expect(result).to_contain_text("问题件")
    expect(result.get_by_role("list", name="将生成的工单")).to_have_text("一次沟通解释件（不清楚保险责任/责任免除；问题项：阅读条款及说明书）")
    answers = page.get_by_role("table", name="已记录的回答")
    expect(answers.get_by_role("row").filter(has_text="阅读条款及说明书")).to_contain_text("解释后仍不清楚")
    result.scroll_into_view_if_needed()
    _publish(page, tmp_path, "flow-simulator")
    assert blocked == []
    assert _counts(engine) == before
