"""The supervisor's dashboard (`GET /console/`): its numbers on a known campaign (tests/console/campaign_world.py)
at a frozen clock, per branch and for all, the tasks-at-risk rule over weekends and holidays, the htmx refresh
(only the dashboard's part, the filter kept), and who gets it."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cases.campaign import dashboard
from dialer.controls import pause
from kit.actor import Actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import TaskStatus
from tests.conftest import NOW
from tests.console.campaign_world import TaskPlan, build_campaign, shape
from tests.console.conftest import login
from tests.factories import policy_row
from tests.intake.test_service import make

SUPERVISOR = Actor.of("张总", ["supervisor"])


@pytest.fixture
def campaign(console_app: Flask, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
             calendar: BusinessCalendar) -> Flask:
    build_campaign(session, tmp_path, settings, clock, calendar)
    return console_app


@pytest.fixture
def boss(campaign: Flask) -> FlaskClient:
    client = campaign.test_client()
    assert login(client, "张总") == "/console/"
    return client


def tile(page: str, name: str) -> int:
    found = re.search(rf'<strong id="{name}">(\d+)</strong>', page)
    assert found is not None, name
    return int(found.group(1))


def table_rows(page: str, label: str) -> list[list[str]]:
    """The cells (tags stripped) of the table named `label`."""
    found = re.search(rf'<table[^>]*aria-label="{label}">(.*?)</table>', page, flags=re.S)
    assert found is not None, label
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), flags=re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S)]
            for r in rows][1:]


def chart(page: str, name: str) -> dict[str, object]:
    found = re.search(rf'class="chart chart-{name}" data-chart="([^"]*)"', page)
    assert found is not None, name
    text = found.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    return json.loads(text)  # type: ignore[no-any-return]


def test_the_supervisor_lands_on_todays_campaign(boss: FlaskClient) -> None:
    page = boss.get("/console/").get_data(as_text=True)
    assert "回访作业看板" in page
    assert "2026-11-25（星期三）" in page
    assert {n: tile(page, n) for n in ("due", "dialed", "reached", "in-progress", "completed", "late",
                                        "at-risk-count")} == {
        "due": 9, "dialed": 5, "reached": 3, "in-progress": 2, "completed": 2, "late": 1, "at-risk-count": 3}
    assert "其中暂停拨打 1" in page
    assert "其中拨号中 1" in page
    assert "今日逾期完成 1" in page
    assert "接通率 60.0%" in page  # 3 of the 5 dialled
    assert table_rows(page, "今日回访结果") == [
        ["标准件", "1", "50.0%"], ["次标准件", "0", "0.0%"], ["问题件", "1", "50.0%"], ["核实件", "0", "0.0%"],
        ["合计", "2", ""]]
    assert chart(page, "results")["series"] == [
        {"name": "今日回访结果", "data": [1, 0, 1, 0], "colors": ["#16a34a", "#0ea5e9", "#f97316", "#a855f7"]}]


def test_the_dashboard_says_when_calling_is_paused(boss: FlaskClient, session: Session, clock: FrozenClock) -> None:
    assert "外呼已暂停" not in boss.get("/console/").get_data(as_text=True)
    pause(session, SUPERVISOR, branch="110100", product_type=None, reason="话术更新", now=clock.now())
    pause(session, SUPERVISOR, branch=None, product_type="health", reason="健康险停售", now=clock.now())
    session.commit()
    banner = re.search(r'<p class="banner paused" role="status">(.*?)</p>',
                       boss.get("/console/", headers={"HX-Request": "true"}).get_data(as_text=True), flags=re.S)
    assert banner is not None  # in the part the refresh swaps in too
    text = re.sub(r"<[^>]+>", "", banner.group(1))
    assert text.startswith("外呼已暂停：机构 ")
    assert "（110100）（话术更新，张总，2026-11-25 " in text
    assert "；险种 健康险（健康险停售，张总，" in text
    assert '<a href="/console/dialer">' in banner.group(1)


def test_the_tasks_at_risk_link_to_their_policy_in_deadline_order(boss: FlaskClient) -> None:
    page = boss.get("/console/").get_data(as_text=True)
    rows = table_rows(page, "临期未接通")
    assert [(r[0], r[3], r[4]) for r in rows] == [
        ("D3", "2026-11-25", "今日到期"), ("T3", "2026-11-26", "1 个工作日"), ("D6", "2026-11-27", "2 个工作日")]
    assert '<a href="/console/policies/D3">D3</a>' in page
    assert "D4" not in [r[0] for r in rows]  # on a call now: reached
    assert "D5" not in [r[0] for r in rows]  # past its deadline: late, not at risk


def test_the_last_30_days_rates_by_day(boss: FlaskClient) -> None:
    page = boss.get("/console/").get_data(as_text=True)
    rows = {r[0]: r[1:] for r in table_rows(page, "近 30 天接通率与成功率")}
    assert len(rows) == 30
    assert min(rows) == "2026-10-27"
    assert max(rows) == "2026-11-25"
    assert rows["2026-11-25"] == ["5", "3", "60.0%", "2", "40.0%"]
    assert rows["2026-11-24"] == ["1", "1", "100.0%", "1", "100.0%"]
    assert rows["2026-11-22"] == ["1", "0", "0.0%", "0", "0.0%"]  # an answering machine is nobody
    assert rows["2026-11-23"] == ["0", "0", "-", "0", "-"]
    series = chart(page, "days")["series"]
    assert isinstance(series, list)
    assert series[0]["data"][-4:] == [0.0, None, 1.0, 0.6]
    assert series[1]["data"][-1] == 0.4


def test_open_cases_by_branch_and_sla(boss: FlaskClient) -> None:
    page = boss.get("/console/").get_data(as_text=True)
    assert table_rows(page, "各机构未结工单") == [
        ["北京分公司", "1", "0", "1", "2"], ["天津分公司", "0", "0", "1", "1"], ["合计", "1", "0", "2", "3"]]
    assert 'href="/console/cases?branch=110100"' in page


def test_one_branch_only(boss: FlaskClient) -> None:
    page = boss.get("/console/?branch=110100").get_data(as_text=True)
    assert {n: tile(page, n) for n in ("due", "dialed", "reached", "in-progress", "completed", "late",
                                        "at-risk-count")} == {
        "due": 7, "dialed": 4, "reached": 3, "in-progress": 1, "completed": 2, "late": 1, "at-risk-count": 2}
    assert [r[0] for r in table_rows(page, "临期未接通")] == ["D3", "D6"]
    assert [r[0] for r in table_rows(page, "各机构未结工单")] == ["北京分公司", "合计"]
    assert '<option value="110100" selected>' in page


def test_an_unknown_branch_is_named_and_all_branches_are_shown(boss: FlaskClient) -> None:
    page = boss.get("/console/?branch=999999").get_data(as_text=True)
    assert "机构：没有代码为 999999 的机构" in page
    assert tile(page, "due") == 9


def test_the_htmx_refresh_sends_the_dashboard_part_with_its_filter(boss: FlaskClient) -> None:
    full = boss.get("/console/?branch=120100").get_data(as_text=True)
    assert 'hx-get="/console/?branch=120100" hx-trigger="every 60s"' in full
    part = boss.get("/console/?branch=120100", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert part.lstrip().startswith("{#") is False
    assert part.strip().startswith('<div id="dashboard"')
    assert "<html" not in part
    assert 'hx-get="/console/?branch=120100"' in part
    assert tile(part, "due") == 2


def test_the_page_loads_echarts_and_the_chart_script_from_the_console(boss: FlaskClient) -> None:
    reply = boss.get("/console/")
    page = reply.get_data(as_text=True)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert "/console/static/vendor/echarts/echarts-6.1.0.min.js" in scripts
    assert "/console/static/charts.js" in scripts
    assert "<script>" not in page
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    assert boss.get("/console/static/charts.js").status_code == 200


def test_other_roles_keep_their_landing_page(campaign: Flask) -> None:
    client = campaign.test_client()
    login(client, "王芳")
    assert client.get("/console/").headers["Location"] == "/console/cases"


# -- the at-risk rule: working days, not calendar days ------------------------------------------------------


@pytest.fixture
def deadlines(console_app: Flask, session: Session, tmp_path: Path, settings: Settings,
              clock: FrozenClock) -> Session:
    make(session, tmp_path, settings, clock)([policy_row(policy_no=f"R{n}") for n in range(1, 5)])
    return session


def _at_risk(session: Session, now: datetime, calendar: BusinessCalendar,
             plans: dict[str, date]) -> tuple[date, list[str]]:
    for no, deadline in plans.items():
        shape(session, no, TaskPlan(deadline=deadline))
    session.flush()
    board = dashboard(session, SUPERVISOR, now, calendar)
    return board.at_risk_until, [r.policy_no for r in board.at_risk if r.policy_no in plans]


def test_at_risk_counts_working_days_across_a_weekend(deadlines: Session, calendar: BusinessCalendar) -> None:
    """Thursday 2026-11-26: two working days on is Monday the 30th (the weekend does not count)."""
    thursday = datetime(2026, 11, 26, 9, 0, tzinfo=BUSINESS_TZ)
    until, risky = _at_risk(deadlines, thursday, calendar, {
        "R1": date(2026, 11, 26), "R2": date(2026, 11, 30), "R3": date(2026, 12, 1), "R4": date(2026, 11, 25)})
    assert until == date(2026, 11, 30)
    assert risky == ["R1", "R2"]  # R3 is three working days away; R4 is late already


def test_at_risk_counts_working_days_across_national_day(deadlines: Session, calendar: BusinessCalendar) -> None:
    """Wednesday 2026-09-30, before the National Day holiday (1–7 October): two working days on is 9 October."""
    eve = datetime(2026, 9, 30, 16, 0, tzinfo=BUSINESS_TZ)
    until, risky = _at_risk(deadlines, eve, calendar, {
        "R1": date(2026, 10, 8), "R2": date(2026, 10, 9), "R3": date(2026, 10, 12), "R4": date(2026, 9, 30)})
    assert until == date(2026, 10, 9)
    assert risky == ["R4", "R1", "R2"]
    board = dashboard(deadlines, SUPERVISOR, eve, calendar)
    assert [(r.policy_no, r.working_days_left) for r in board.at_risk] == [("R4", 0), ("R1", 1), ("R2", 2)]


def test_a_reached_applicant_is_no_longer_at_risk(deadlines: Session, calendar: BusinessCalendar) -> None:
    from kit.vocab import CallOutcome
    from tests.console.campaign_world import call

    task = shape(deadlines, "R1", TaskPlan(deadline=date(2026, 11, 26)))
    call(deadlines, task, NOW - timedelta(hours=2), CallOutcome.HANGUP, answered=True)
    shape(deadlines, "R2", TaskPlan(TaskStatus.QUEUED, date(2026, 11, 26)))
    deadlines.flush()
    board = dashboard(deadlines, SUPERVISOR, NOW, calendar)
    assert [r.policy_no for r in board.at_risk if r.policy_no.startswith("R")] == ["R2"]
