"""The KPI page (`GET /console/reports/kpi`): the same numbers as `huifang report kpi --json` for the same month and
grouping (one implementation, cases.kpi), every rate with its numerator and denominator, the agent warnings of
`huifang report agents`, its CSV export byte for byte the CLI's --csv file and its XLSX the same rows (audited),
and bad input named in Chinese."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cases.kpi import RATES
from console.formatting import percent
from console.reports import routes as kpi_routes
from huifang.cli import cli
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.models import AuditEvent
from tests.cases.test_kpi import build_month
from tests.console.conftest import login

GROUPINGS = ("branch", "channel", "agent", "product_type")


@pytest.fixture
def month(console_app: Flask, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
          calendar: BusinessCalendar) -> Flask:
    build_month(session, tmp_path, settings, clock, calendar)
    session.commit()
    return console_app


@pytest.fixture
def boss(month: Flask) -> FlaskClient:
    client = month.test_client()
    login(client, "张总")
    return client


def cli_json(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], env={"HUIFANG_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def page_rows(page: str) -> dict[str, dict[str, str]]:
    """The KPI table: per group key, `due` and each rate's shown value and its `numerator / denominator`."""
    body = re.search(r'<table class="list numbers kpi"[^>]*>(.*?)</table>', page, flags=re.S)
    assert body is not None
    out = {}
    for key, row in re.findall(r'<tr class="[^"]*" data-key="([^"]+)">(.*?)</tr>', body.group(1), flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        found = {"due": cells[1]}
        for name, cell in re.findall(r'<td data-rate="([a-z_]+)">(.*?)</td>', row, flags=re.S):
            rate = re.search(r'<span class="rate">([^<]*)</span>', cell)
            frac = re.search(r'<span class="frac"[^>]*>([^<]*)</span>', cell)
            assert rate is not None
            assert frac is not None
            found[name], found[f"{name}.of"] = rate.group(1), frac.group(1)
        out[key] = found
    return out


def expected_rows(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    out = {}
    for row in [*report["rows"], report["total"]]:
        found = {"due": str(row["due"])}
        for name, (num, den) in RATES.items():
            found[name], found[f"{name}.of"] = percent(row[name]), f"{row[num]} / {row[den]}"
        out[row["key"]] = found
    return out


@pytest.mark.parametrize("by", GROUPINGS)
def test_the_page_shows_the_clis_numbers(boss: FlaskClient, db_url: str, by: str) -> None:
    page = boss.get(f"/console/reports/kpi?month=2026-11&by={by}").get_data(as_text=True)
    report = cli_json(db_url, "report", "kpi", "--month", "2026-11", "--by", by)
    assert report["rows"], "the month has rows"
    assert page_rows(page) == expected_rows(report)


def test_the_hand_built_month_reads_as_worked_out(boss: FlaskClient) -> None:
    page = boss.get("/console/reports/kpi?month=2026-11&by=branch").get_data(as_text=True)
    rows = page_rows(page)
    assert rows["合计"]["success_rate"] == "50.0%"
    assert rows["合计"]["success_rate.of"] == "2 / 4"
    assert "110100 北京分公司" in page
    assert "310100 上海分公司" in page
    assert '<input type="month" name="month" value="2026-11">' in page


@pytest.mark.parametrize("by", ["branch", "agent"])  # by agent the page's own report gives them
def test_the_agent_warnings_are_the_clis(boss: FlaskClient, db_url: str, by: str) -> None:
    page = boss.get(f"/console/reports/kpi?month=2026-11&by={by}").get_data(as_text=True)
    agents = cli_json(db_url, "report", "agents", "--month", "2026-11")["agents"]
    table = re.search(r'aria-label="业务员月度预警">(.*?)</table>', page, flags=re.S)
    assert table is not None
    shown = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table.group(1), flags=re.S)][1:]
    assert shown == [[a["agent_code"], a["agent_name"], str(a["due"]), str(a["successful"]), percent(a["success_rate"])]
                     for a in agents]
    assert agents, "the month has a warned agent"


def test_the_default_is_this_month_by_branch(boss: FlaskClient) -> None:
    page = boss.get("/console/reports/kpi").get_data(as_text=True)
    assert '<input type="month" name="month" value="2026-11">' in page  # the clock's month (NOW)
    assert '<option value="branch" selected>' in page


@pytest.mark.parametrize("by", ["branch", "agent"])
def test_the_csv_export_is_the_clis_file_and_is_audited(boss: FlaskClient, db_url: str, engine: Engine,
                                                         tmp_path: Path, by: str) -> None:
    reply = boss.get(f"/console/reports/kpi?month=2026-11&by={by}&format=csv")
    assert reply.status_code == 200
    assert reply.mimetype == "text/csv"
    assert "attachment" in reply.headers["Content-Disposition"]
    path = tmp_path / "cli.csv"
    result = CliRunner().invoke(cli, ["report", "kpi", "--month", "2026-11", "--by", by, "--csv", str(path)],
                                env={"HUIFANG_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert reply.data == path.read_bytes()
    page = boss.get(f"/console/reports/kpi?month=2026-11&by={by}").get_data(as_text=True)
    lines = reply.data.decode("utf-8-sig").splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == list(page_rows(page))  # the page's rows, in its order
    with Session(engine) as s:
        audits = s.scalars(select(AuditEvent).where(AuditEvent.action == "kpi_export")).all()
        assert [(a.operator, a.target, a.detail) for a in audits] == [
            ("张总", f"kpi: month=2026-11, by={by}", f"csv, {len(lines)} rows")]


def test_the_xlsx_export_has_the_pages_rows(boss: FlaskClient, db_url: str) -> None:
    reply = boss.get("/console/reports/kpi?month=2026-11&by=branch&format=xlsx")
    assert reply.status_code == 200
    sheet = load_workbook(io.BytesIO(reply.data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    report = cli_json(db_url, "report", "kpi", "--month", "2026-11", "--by", "branch")
    assert rows[0][:3] == ("分组", "回访覆盖率", "回访成功率")
    assert [(r[0], r[2]) for r in rows[1:]] == [(x["key"], x["success_rate"])
                                                for x in [*report["rows"], report["total"]]]


@pytest.mark.parametrize(("query", "words"), [
    ("month=nov", "月份：“nov”不是有效的月份，请按 YYYY-MM 填写"),
    ("month=2026-11&by=city", "分组：请选择 机构、渠道、业务员、产品类型"),
    ("month=2026-11&format=pdf", "导出格式：只支持 xlsx 或 csv"),
])
def test_bad_input_is_named_in_chinese(boss: FlaskClient, engine: Engine, query: str, words: str) -> None:
    reply = boss.get(f"/console/reports/kpi?{query}")
    assert reply.status_code == 200
    assert reply.mimetype == "text/html"
    assert words in reply.get_data(as_text=True)
    with Session(engine) as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "kpi_export")).all() == []


def test_many_groups_are_paged_and_the_total_and_export_stay_whole(boss: FlaskClient, db_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kpi_routes, "PAGE_SIZE", 1)  # the month has two agents: two pages of one
    report = cli_json(db_url, "report", "kpi", "--month", "2026-11", "--by", "agent")
    assert [r["key"] for r in report["rows"]] == ["A1001", "A2001"]
    first = boss.get("/console/reports/kpi?month=2026-11&by=agent").get_data(as_text=True)
    second = boss.get("/console/reports/kpi?month=2026-11&by=agent&page=2").get_data(as_text=True)
    everything = expected_rows(report)
    assert page_rows(first) == {k: everything[k] for k in ("A1001", "合计")}
    assert page_rows(second) == {k: everything[k] for k in ("A2001", "合计")}
    assert "共 <strong>2</strong> 组，第 1 / 2 页（每页 1 组，导出包含全部分组）" in first
    assert 'href="?month=2026-11&amp;by=agent&amp;page=2">下一页</a>' in first
    assert "下一页" not in second
    assert 'href="?month=2026-11&amp;by=agent&amp;page=1">上一页</a>' in second
    drawn = chart_of(second)  # the chart draws the page's groups
    assert (len(drawn["categories"]), drawn["series"][0]["data"]) == (1, [report["rows"][1]["coverage_rate"]])
    assert page_rows(boss.get("/console/reports/kpi?month=2026-11&by=agent&page=9").get_data(as_text=True)) == \
        page_rows(second)  # past the end: the last page
    lines = boss.get("/console/reports/kpi?month=2026-11&by=agent&page=2&format=csv").data.decode("utf-8-sig")
    assert [line.split(",")[0] for line in lines.splitlines()[1:]] == ["A1001", "A2001", "合计"]


def test_one_page_has_no_pager(boss: FlaskClient) -> None:
    page = boss.get("/console/reports/kpi?month=2026-11&by=agent").get_data(as_text=True)
    assert "共 <strong>2</strong> 组</span>" in page
    assert 'class="pager"' not in page


def chart_of(page: str) -> Any:
    found = re.search(r'id="chart-kpi" data-chart="([^"]*)"', page)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))
