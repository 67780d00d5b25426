"""The e-callback page in a real browser (headless Debian chromium driven by Playwright) at a phone's viewport:
the journeys of issue 17. Screenshots are saved under the test's tmp dir, and the question screen to
docs/screenshots/ with HUIFANG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.service import add_user
from kit.actor import operator_actor
from kit.vocab import TaskStatus
from tests.console.conftest import PASSWORD
from tests.ecallback.world import BORN, World

pytestmark = [pytest.mark.browser, pytest.mark.db]
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def _shot(page: Page, tmp_path: Path, name: str, *, publish: bool = False) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if publish and os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _identify(page: Page, world: World, base: str, born: str = BORN, tmp_path: Path | None = None) -> None:
    page.goto(f"{base}{world.path}")
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    if tmp_path is not None:
        _shot(page, tmp_path, "ecallback-identity")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("alert")).to_contain_text("验证码已发送")
    page.get_by_label("出生日期").fill(born)
    page.get_by_label("短信验证码").fill(world.last_code())
    page.get_by_role("button", name="本人确认，开始回访").click()


def _answer_until_done(page: Page, no_on: str = "") -> None:
    said_no = False
    for _ in range(60):
        if page.get_by_role("heading", name="回访已完成").count():
            return
        question = page.locator("p.question").inner_text()
        if no_on and no_on in question and not said_no:
            said_no = True
            page.get_by_role("button", name="否", exact=True).click()
            expect(page.get_by_text("请问您现在清楚了吗")).to_be_visible()
            expect(page.locator("p.question")).to_have_text(question)  # the question again, after the explanation
            continue
        page.get_by_role("button", name="是", exact=True).click()
    raise AssertionError("the questionnaire did not end")


def test_all_yes_is_standard_and_the_completed_link_cannot_be_reused(live: tuple[World, str], page: Page,
                                                                      tmp_path: Path) -> None:
    world, base = live
    _identify(page, world, base, tmp_path=tmp_path)
    expect(page.locator("p.question")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    _shot(page, tmp_path, "ecallback-question", publish=True)
    _answer_until_done(page)
    _shot(page, tmp_path, "ecallback-done")
    task = world.ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "standard")
    page.go_back()  # the last question's page, from the browser's history
    page.reload()
    expect(page.get_by_role("heading", name="此链接已使用")).to_be_visible()
    expect(page.get_by_role("button", name="是", exact=True)).to_have_count(0)
    assert world.ivr.task().result_class == "standard"


def test_no_then_yes_after_the_explanation_is_sub_standard(live: tuple[World, str], page: Page) -> None:
    world, base = live
    _identify(page, world, base)
    _answer_until_done(page, no_on="保险责任、责任免除")
    task = world.ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "sub_standard")


def test_a_wrong_birth_date_three_times_is_verification(live: tuple[World, str], page: Page) -> None:
    world, base = live
    _identify(page, world, base, "1981-06-18")
    for _ in range(2):
        expect(page.get_by_role("alert")).to_contain_text("不一致")
        page.get_by_label("出生日期").fill("1981-06-18")
        page.get_by_role("button", name="本人确认，开始回访").click()
    expect(page.get_by_role("heading", name="回访已结束")).to_be_visible()
    task = world.ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "verification")


def test_an_expired_link_shows_a_clear_page_and_nothing_changes(live: tuple[World, str], page: Page,
                                                                tmp_path: Path) -> None:
    world, base = live
    world.ivr.clock.advance(timedelta(days=8))  # past the cooling-off end
    before = world.link()
    page.goto(f"{base}{world.path}")
    expect(page.get_by_role("heading", name="链接已过期")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    _shot(page, tmp_path, "ecallback-expired")
    after = world.link()
    assert (after.updated_at, after.call_id, after.used_at) == (before.updated_at, None, None)
    assert world.ivr.task().status is TaskStatus.QUEUED


def test_the_console_shows_the_finished_e_callback_on_the_policy_page(live: tuple[World, str], page: Page,
                                                                      browser: Browser, tmp_path: Path) -> None:
    """After the applicant's journey, a branch handler at a desk (1366×768) finds it on the policy's timeline as
    电子化回访 with the screens kept, opens one (sandboxed), and the page fits the screen's width."""
    world, base = live
    _identify(page, world, base)
    _answer_until_done(page)
    svc = world.ivr.svc
    with world.ivr.session() as s:
        add_user(s, operator_actor("root"), "王芳", PASSWORD, ["branch"], ["110100"], now=svc.clock.now(),
                 settings=svc.settings.console)
        s.commit()
    desk = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    staff = desk.new_page()
    staff.goto(f"{base}/console/login")
    staff.get_by_label("用户名").fill("王芳")
    staff.get_by_label("密码").fill(PASSWORD)
    staff.get_by_role("button", name="登录").click()
    staff.goto(f"{base}/console/policies/{world.ivr.policy_no}")
    expect(staff.locator("li.call h3").first).to_contain_text("电子化回访")
    expect(staff.locator("p.screens a").first).to_contain_text("身份核实页")
    expect(staff.locator("li.call p").first).not_to_contain_text("进行中")  # a finished session shows its end
    assert staff.evaluate("document.documentElement.scrollWidth") <= 1366
    _shot(staff, tmp_path, "policy-ecallback", publish=True)
    with staff.expect_popup() as opened:
        staff.locator("p.screens a").first.click()
    expect(opened.value.get_by_role("heading", name="身份验证")).to_be_visible()
    desk.close()
