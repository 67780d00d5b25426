"""The dead letters page in real Chromium: the supervisor opens 结果通知 from the nav, sees the notification the
sender gave up on with its Chinese labels and Beijing times, sends it again, and sees it leave the dead letters for
the sending queue. Screenshot: docs/screenshots/notifications.png with HUIFANG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, IntegrationEvent
from tests.conftest import NOW
from tests.console.test_browser import _shot, _sign_in

pytestmark = pytest.mark.browser


def _give_up_on_tj1(engine: Engine) -> str:
    """The fixture's TJ1 case opened with an event; the sender gave up on it after 24 h of 503s."""
    with Session(engine) as s:
        event = s.scalars(select(IntegrationEvent).where(IntegrationEvent.policy_no == "TJ1")).one()
        event.dead_at, event.attempts, event.last_error = NOW + timedelta(hours=24), 17, "HTTP 503"
        s.commit()
        return event.event_id


def test_a_supervisor_sees_a_dead_letter_in_chinese_and_sends_it_again(
        page: Page, live_console: str, engine: Engine, tmp_path: Path) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    event_id = _give_up_on_tj1(engine)
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="结果通知").click()
    expect(page).to_have_url(re.compile(r"/console/notifications$"))
    expect(page.get_by_role("heading", name="结果通知（核心系统）")).to_be_visible()
    expect(page.get_by_text("未配置（不发送，事件保留供查询接口使用）")).to_be_visible()  # no endpoint in the tests
    counts = page.locator("p.counts")
    expect(counts).to_contain_text("待发送 1 件")  # BJ1's case.opened, waiting for an endpoint
    expect(counts).to_contain_text("发送失败（死信）1 件")
    dead = page.get_by_role("region", name="死信")
    expect(dead.get_by_text("已送达的事件保留 90 天后自动清理")).to_be_visible()
    row = dead.get_by_role("row").filter(has_text=event_id)
    expect(row.get_by_role("cell")).to_have_text([
        event_id, "工单开立", "TJ1", "2026-11-25 10:00", "17", "2026-11-26 10:00", "HTTP 503", "重新发送"])
    _shot(page, tmp_path, "notifications", publish=True)

    row.get_by_role("button", name="重新发送").click()
    expect(page).to_have_url(re.compile(r"/console/notifications$"))
    expect(page.get_by_role("status")).to_have_text(f"已重新发送：{event_id}（将在下一次发送时投递）")
    expect(dead.get_by_role("cell", name="没有死信")).to_be_visible()
    expect(counts).to_contain_text("待发送 2 件")  # back in the sending queue
    expect(counts).to_contain_text("发送失败（死信）0 件")
    _shot(page, tmp_path, "notifications-resent")
    with Session(engine) as s:
        event = s.scalars(select(IntegrationEvent).where(IntegrationEvent.event_id == event_id)).one()
        assert (event.dead_at, event.attempts, event.resent_at) == (None, 0, NOW)
        audit = [(a.operator, a.target) for a in s.scalars(select(AuditEvent)) if a.action == "notify_resend"]
    assert audit == [("张总", event_id)]
    assert blocked == []
