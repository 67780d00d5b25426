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

from cases.sla import status_at
from flows.vocab import CaseType
from huifang.demo_cmd import DemoRun
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from kit.vocab import RecordingStatus
from storage.models import AuditEvent, Branch, Call, CallbackTask, Case, Policy, Recording
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


def _shot(page: Page, tmp_path: Path, name: str, *, publish: bool = False) -> None:
    """A full-page screenshot under the test's tmp dir; with `publish`, the first screen (1366×768) also to
    docs/screenshots/ when HUIFANG_UPDATE_SCREENSHOTS=1 (the README shows them)."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if publish and os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _sign_in(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def _correct_the_phone(page: Page, note: str) -> None:
    """The resolution form: the number was corrected through a policy service change."""
    page.get_by_label("处理方式").select_option("phone_corrected")
    page.get_by_label("新号码").fill("139 1234 5678")
    page.get_by_label("备注").fill(note)
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_text("已处理")).to_be_visible()


def test_a_handler_finds_the_overdue_case_resolves_it_and_signs_out(
        page: Page, live_console: str, wrong_number: str, engine: Engine, tmp_path: Path) -> None:
    blocked: list[str] = []  # what the Content-Security-Policy refused (htmx must not need inline styles)
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    _sign_in(page, live_console, "王芳")
    expect(page).to_have_url(re.compile(r"/console/cases$"))
    page.evaluate("() => { window.notReloaded = true; }")
    page.get_by_label("时效状态").select_option(label="超时")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"sla_status=overdue"))  # the filters in the URL, bookmarkable
    assert page.evaluate("() => window.notReloaded === true")  # htmx swapped the list in: no full reload
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

    _correct_the_phone(page, "保全变更已完成")

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
    assert blocked == []


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
    _sign_in(page, demo_console.url, user.name, user.password)
    expect(page).to_have_url(re.compile(r"/console/cases$"))
    expect(page.locator("table.list tbody tr").first).to_contain_text(user.branches[0])


def _recorded_verification_case(run: DemoRun, branch: str) -> tuple[int, str]:
    """A verification case the demo's robot raised in `branch`, whose call's recording is stored."""
    with run.app.unit_of_work() as s:
        row = s.execute(
            select(Case.id, Policy.policy_no).join(Policy, Policy.id == Case.policy_id)
            .join(Branch, Branch.id == Case.branch_id).join(Call, Call.id == Case.call_id)
            .join(Recording, Recording.call_id == Call.id)
            .where(Branch.code == branch, Case.type == CaseType.VERIFICATION_CASE, Case.status == "open",
                   Recording.status == RecordingStatus.STORED)
            .order_by(Case.id)).first()
    assert row is not None, "the demo raised no recorded verification case in the branch user's branch"
    return int(row[0]), str(row[1])


def test_the_handlers_whole_journey_on_the_demo_with_a_recording(page: Page, demo_console: DemoConsole,
                                                                   tmp_path: Path) -> None:
    """The issue's journey over real calls: sign in, filter the queue by SLA, open a case, play its recording
    (the <audio> element reaches readyState ≥ 2), correct the phone, the case leaves the queue and the
    callback is queued again, sign out."""
    user = demo_console.users["branch"]
    case_id, policy_no = _recorded_verification_case(demo_console.run, user.branches[0])
    with demo_console.run.app.unit_of_work() as s:  # the status the queue shows: at the console's clock
        warn, due = s.execute(select(Case.warn_at, Case.due_at).where(Case.id == case_id)).one()
    sla = status_at(demo_console.run.ended_at, warn, due)
    _sign_in(page, demo_console.url, user.name, user.password)
    page.get_by_label("时效状态").select_option(sla.value)
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(rf"sla_status={sla.value}"))
    _shot(page, tmp_path, "queue", publish=True)
    page.get_by_role("link", name=str(case_id), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"工单 {case_id}")

    player = page.locator("audio").first
    player.evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 2")
    _shot(page, tmp_path, "case", publish=True)

    _correct_the_phone(page, "保全变更已完成，已更正手机号")
    page.get_by_role("link", name="问题件工单").click()
    expect(page.locator("table.list")).not_to_contain_text(policy_no)
    with demo_console.run.app.unit_of_work() as s:
        policy = s.scalars(select(Policy).where(Policy.policy_no == policy_no)).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        assert (policy.applicant_phone, task.status.value) == ("+8613912345678", "queued")
        plays = s.scalars(select(AuditEvent).where(AuditEvent.action == "playback",
                                                   AuditEvent.operator == user.name)).all()
        assert len(plays) == 1  # the playback is on the audit trail
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_the_demo_agent_finds_the_hand_offs_and_records_an_outcome(page: Page, demo_console: DemoConsole,
                                                                    tmp_path: Path) -> None:
    """The demo's callers who asked for a person were handed to the demo agent's line: the agent lands on the
    hand-off desk, opens one, and finishes its classification with the outcome form."""
    user = demo_console.users["agent"]
    with demo_console.run.app.unit_of_work() as s:
        handed = s.scalars(select(Call.call_sid).where(Call.handoff_target.is_not(None))).all()
    assert handed, "the demo handed no call to its agent"
    _sign_in(page, demo_console.url, user.name, user.password)
    expect(page).to_have_url(re.compile(r"/console/agent$"))
    _shot(page, tmp_path, "agent-desk", publish=True)
    page.goto(f"{demo_console.url}/console/agent/calls/{handed[0]}")
    page.get_by_label("已解释清楚").check()
    page.get_by_role("button", name="提交").click()
    with demo_console.run.app.unit_of_work() as s:
        outcome = s.scalars(select(Call.agent_outcome).where(Call.call_sid == handed[0])).one()
    assert outcome is not None
    assert outcome.value == "clarified"
