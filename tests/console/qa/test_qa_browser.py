"""A reviewer's journey in a real browser (headless Debian chromium driven by Playwright): sign in as qa, open the
quality list, open the sampled call, press an answer's seek button (the whole-call recording jumps to that answer),
mark the answer the robot heard wrong, submit, and read the flash and the re-classification. Screenshots under the
test's tmp dir, and to docs/screenshots/ with HUIFANG_UPDATE_SCREENSHOTS=1 (look at them when a page changes)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.labels import zh
from storage.models import Call, QaReview
from tests.console.conftest import PASSWORD
from tests.console.qa.conftest import GAP, QaWorld, answer_topics

pytestmark = [pytest.mark.browser, pytest.mark.db]
SCREENSHOTS = Path(__file__).parents[3] / "docs" / "screenshots"


def _shot(page: Page, tmp_path: Path, name: str, *, publish: bool = False) -> None:
    """A full-page screenshot under the test's tmp dir; with `publish`, the first screen (1366×768) also to
    docs/screenshots/ when HUIFANG_UPDATE_SCREENSHOTS=1."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if publish and os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_reviewer_seeks_an_answer_marks_it_wrong_and_the_call_is_reclassified(
        page: Page, qa_world: QaWorld, live_console: str, tmp_path: Path) -> None:
    blocked: list[str] = []  # what the Content-Security-Policy refused (the seek script must be a file)
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_console}/console/login")
    page.get_by_label("用户名").fill("质检周")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="质检复核").click()
    expect(page).to_have_url(re.compile(r"/console/qa$"))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    _shot(page, tmp_path, "qa-list", publish=True)
    page.get_by_label("类型").select_option(label="回访通话")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"kind=call"))  # the filters in the URL
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("待复核")
    _shot(page, tmp_path, "qa-list-calls")

    rows.first.get_by_role("link", name="复核").click()
    expect(page).to_have_url(re.compile(rf"/console/qa/{qa_world.call_sample}$"))
    answers = answer_topics(qa_world)
    target = next(seq for seq, topic in answers.items() if topic == "knows_is_insurance")
    topic_zh = zh("knows_is_insurance", "topic")
    offset = GAP.total_seconds() * (list(answers).index(target) + 1)
    audio = page.locator("#call-audio")
    assert audio.evaluate("a => a.currentTime") == 0
    page.get_by_role("button", name=f"定位到{topic_zh}的回答").click()
    page.wait_for_function(f"() => document.getElementById('call-audio').currentTime >= {offset - 0.05}")
    at = audio.evaluate("a => a.currentTime")
    assert offset - 0.05 <= at < offset + 5  # at the answer (playing on from there)

    for row in page.locator("table.marks tbody tr").all():
        if row.get_attribute("data-seq") != str(target):
            row.get_by_label("正确", exact=True).check()
    page.get_by_role("radiogroup", name=f"{topic_zh}：识别是否正确").get_by_label("错误", exact=True).check()
    page.get_by_label(f"{topic_zh}：客户实际回答").select_option("no")
    page.get_by_role("group", name="回访结果是否正确").get_by_label("不正确", exact=True).check()
    page.get_by_label("备注").fill("客户说“不是”，机器人听成了“是”")
    page.evaluate("() => window.scrollTo(0, 0)")
    _shot(page, tmp_path, "qa-review-form")
    page.get_by_role("button", name="提交复核").click()

    expect(page).to_have_url(re.compile(rf"/console/qa/{qa_world.call_sample}$"))
    with Session(qa_world.engine) as s:
        review = s.scalars(select(QaReview)).one()
        result = s.scalars(select(Call.result_class).where(Call.id == qa_world.call_id)).one()
    assert review.result_after is not None
    assert str(result) == review.result_after
    before, after = zh("standard", "result"), zh(review.result_after, "result")
    expect(page.get_by_role("status")).to_contain_text(f"回访结果由“{before}”改为“{after}”")
    reviews = page.get_by_role("table", name="已有复核意见")
    expect(reviews).to_contain_text(f"{before} → {after}")
    expect(reviews).to_contain_text(f"{topic_zh}：是 → 否")
    page.get_by_role("button", name=f"定位到{topic_zh}的回答").click()  # the answers can still be listened to
    page.wait_for_function(f"() => document.getElementById('call-audio').currentTime >= {offset - 0.05}")
    page.evaluate("() => { document.getElementById('call-audio').pause(); window.scrollTo(0, 0); }")
    _shot(page, tmp_path, "qa-review", publish=True)
    assert blocked == []
