"""The console in a real browser (headless Debian chromium driven by Playwright): the branch handler's main
journey, and a branch user who cannot reach another branch's case. Screenshots are saved under the test's
tmp dir, and to docs/screenshots/ with HUIFANG_UPDATE_SCREENSHOTS=1 (look at them when a page changes)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kit.calendar import BusinessCalendar
from kit.settings import Settings
from storage.models import CallbackTask, Policy
from tasks.holds import hold_wrong_number
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, DemoConsole, case_of
from tests.factories import policy_row
from tests.intake.test_service import make

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture
def wrong_number(session: Session, tmp_path: Path, settings: Settings, calendar: BusinessCalendar,
                 clock: object) -> str:
    """A Beijing policy whose number was wrong ten days ago: its verification case is overdue now."""
    make(session, tmp_path, settings, clock)([policy_row(policy_no="BJ2", applicant_name="孙丽")])  # type: ignore[arg-type]
    policy = session.scalars(select(Policy).where(Policy.policy_no == "BJ2")).one()
    task = session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
    hold_wrong_number(session, task, "空号", now=NOW - timedelta(days=10), cases=settings.cases, calendar=calendar)
    session.commit()
    return "BJ2"


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _sign_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_a_handler_finds_the_overdue_case_resolves_it_and_signs_out(
        page: Page, live_console: str, wrong_number: str, engine: Engine, tmp_path: Path) -> None:
    _sign_in(page, live_console, "王芳")
    expect(page).to_have_url(re.compile(r"/console/cases$"))
    page.get_by_label("时效状态").select_option(label="超时")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"sla_status=overdue"))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("孙丽")
    expect(rows.first).to_contain_text("已超时")
    _shot(page, tmp_path, "queue")

    case_id = case_of(wrong_number, engine)
    page.get_by_role("link", name=str(case_id), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/console/cases/{case_id}$"))
    expect(page.get_by_text("孙丽").first).to_be_visible()
    _shot(page, tmp_path, "case")

    page.get_by_label("处理方式").select_option("phone_corrected")
    page.get_by_label("新号码").fill("139 1234 5678")
    page.get_by_label("备注").fill("保全变更已完成")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_text("已处理")).to_be_visible()

    page.get_by_role("link", name="问题件工单").click()
    expect(page.locator("table.list")).not_to_contain_text("孙丽")  # it left the queue
    with Session(engine) as s:
        policy = s.scalars(select(Policy).where(Policy.policy_no == wrong_number)).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        assert policy.applicant_phone == "+8613912345678"
        assert task.status.value == "queued"  # the callback is queued again

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.goto(f"{live_console}/console/cases")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_a_branch_user_cannot_open_another_branchs_case_in_the_browser(
        page: Page, live_console: str, engine: Engine) -> None:
    _sign_in(page, live_console, "王芳")
    expect(page.locator("table.list")).not_to_contain_text("钱进")
    reply = page.goto(f"{live_console}/console/cases/{case_of('TJ1', engine)}")
    assert reply is not None
    assert reply.status == 404
    expect(page.get_by_role("heading")).to_contain_text("未找到")


def test_every_demo_user_signs_in_to_the_desk_of_their_role(page: Page, demo_console: DemoConsole) -> None:
    """`huifang demo --serve`: the printed users and passwords work, and the branch user's queue has work."""
    assert sorted(demo_console.users) == ["admin", "agent", "branch", "compliance", "qa", "supervisor"]
    user = demo_console.users["branch"]
    page.goto(f"{demo_console.url}/console/login")
    page.get_by_label("用户名").fill(user.name)
    page.get_by_label("密码").fill(user.password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console/cases$"))
    expect(page.locator("table.list tbody tr").first).to_contain_text(user.branches[0])
