"""The supervisor's dashboard and KPI page in a real browser (headless Debian chromium): every chart container
gets its canvas (ECharts drew it, under the console's CSP), the KPI table shows `huifang report kpi`'s numbers,
and the htmx refresh swaps new numbers in without reloading the page (and draws the charts again), and the KPI page
pages a grouping with many groups.
HUIFANG_UPDATE_SCREENSHOTS=1 writes docs/screenshots/dashboard.png and kpi.png."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from console.formatting import percent
from console.reports import routes as kpi_routes
from flows.vocab import ResultClass
from huifang.cli import cli
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from kit.vocab import TaskStatus
from tests.conftest import NOW
from tests.console.campaign_world import build_busy_month, build_campaign, task_of
from tests.console.test_browser import _shot, _sign_in

pytestmark = pytest.mark.browser
CHARTS = ("chart-results", "chart-cases", "chart-days")


@pytest.fixture
def busy(console_app: Flask, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
         calendar: BusinessCalendar) -> Session:
    build_campaign(session, tmp_path, settings, clock, calendar)
    build_busy_month(session, tmp_path, settings, clock, calendar)
    return session


def _watch_csp(page: Page) -> list[str]:
    """What the Content-Security-Policy refused. (htmx's settling copies an old element's attributes to the new
    one with the same id: a chart container's style, set by ECharts, would be an inline style — they have none.)"""
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    return blocked


def _canvases(page: Page) -> dict[str, int]:
    return {name: page.locator(f".{name} canvas").count() for name in CHARTS}


def test_the_dashboard_draws_its_charts_and_refreshes_in_place(page: Page, live_console: str, busy: Session,
                                                               tmp_path: Path) -> None:
    blocked = _watch_csp(page)
    _sign_in(page, live_console, "张总")
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", name="回访作业看板")).to_be_visible()
    for name in CHARTS:
        expect(page.locator(f".{name} canvas").first).to_be_attached()
    assert all(n >= 1 for n in _canvases(page).values()), _canvases(page)
    _shot(page, tmp_path, "dashboard", publish=True)

    page.evaluate("() => { window.notReloaded = true; }")
    completed = int(page.locator("#completed").inner_text())
    task = task_of(busy, "BJ1")  # BJ1 is called back successfully meanwhile
    task.status, task.result_class, task.completed_at = TaskStatus.COMPLETED, ResultClass.STANDARD, NOW - timedelta(
        minutes=1)
    busy.commit()
    page.get_by_role("button", name="立即刷新").click()
    expect(page.locator("#completed")).to_have_text(str(completed + 1))
    assert page.evaluate("() => window.notReloaded === true")  # swapped in by htmx: the page was not reloaded
    for name in CHARTS:
        expect(page.locator(f".{name} canvas").first).to_be_attached()  # drawn again after the swap

    page.get_by_label("机构", exact=True).select_option("120100")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"branch=120100"))
    expect(page.locator("#dashboard")).to_have_attribute("hx-get", "/console/?branch=120100")  # the refresh keeps it
    assert page.evaluate("() => window.notReloaded === true")
    page.get_by_role("link", name="T3").click()  # a task at risk → its policy
    expect(page).to_have_url(re.compile(r"/console/policies/T3$"))
    assert blocked == []


def test_the_kpi_page_shows_the_clis_numbers_beside_its_chart(page: Page, live_console: str, busy: Session,
                                                              db_url: str, tmp_path: Path) -> None:
    blocked = _watch_csp(page)
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="KPI 报表").click()
    page.get_by_label("分组").select_option("branch")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#chart-kpi canvas").first).to_be_attached()
    result = CliRunner().invoke(cli, ["report", "kpi", "--month", "2026-11", "--by", "branch", "--json"],
                                env={"HUIFANG_DATABASE_URL": db_url})
    report = json.loads(result.stdout)
    assert len(report["rows"]) >= 5
    for row in [*report["rows"], report["total"]]:
        cells = page.locator(f'table.kpi tr[data-key="{row["key"]}"] td')
        expect(cells.nth(1)).to_have_text(str(row["due"]))
        expect(cells.nth(3).locator(".rate")).to_have_text(percent(row["success_rate"]))
        expect(cells.nth(3).locator(".frac")).to_have_text(f"{row['successful']} / {row['due']}")
    _shot(page, tmp_path, "kpi", publish=True)
    assert blocked == []


def test_the_kpi_page_pages_its_agents(page: Page, live_console: str, busy: Session, db_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """By agent there are thousands of groups in a real month: the page shows PAGE_SIZE of them (here 8), the
    chart the same ones, the total row every group's, and 下一页 goes on with the grouping kept."""
    monkeypatch.setattr(kpi_routes, "PAGE_SIZE", 8)
    blocked = _watch_csp(page)
    _sign_in(page, live_console, "张总")
    page.goto(f"{live_console}/console/reports/kpi?month=2026-11&by=agent")
    result = CliRunner().invoke(cli, ["report", "kpi", "--month", "2026-11", "--by", "agent", "--json"],
                                env={"HUIFANG_DATABASE_URL": db_url})
    keys = [row["key"] for row in json.loads(result.stdout)["rows"]]
    assert len(keys) > 8
    expect(page.locator("table.kpi tbody tr")).to_have_count(8 + 1)
    page.get_by_role("link", name="下一页").click()
    expect(page).to_have_url(re.compile(r"by=agent&page=2$"))
    expect(page.locator("#chart-kpi canvas").first).to_be_attached()
    shown = page.locator("table.kpi tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert shown == [*keys[8:16], "合计"]
    expect(page.locator(".toolbar")).to_contain_text(f"共 {len(keys)} 组，第 2 / ")
    _shot(page, tmp_path, "kpi-agents-page-2")
    assert blocked == []
