"""保单导入 in a real browser: a supervisor uploads a 50,000-row file, watches the progress bar move, and the page
ends with the summary the CLI prints for the same file (docs/screenshots/imports.png is that page)."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.synthetic import write_csv
from kit.settings import Settings
from storage.models import ImportJob
from tests.console.test_browser import _shot, _sign_in
from tests.console.test_imports import cli_summary

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.heavy]
ROWS = 50_000


def with_two_bad_rows(path: Path) -> None:
    """Two copies of the last row, renumbered and broken: a date the file format does not allow, and a product
    type and a channel no one knows (one row, two errors)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, *_, last = list(csv.reader(handle))
    column = {name: header.index(label) for name, label in (("policy_no", "保单号"), ("issue_date", "承保日期"),
                                                            ("product_type", "产品类型"), ("channel", "销售渠道"))}
    first, second = list(last), list(last)
    first[column["policy_no"]], first[column["issue_date"]] = "BAD0000001", "13/11/2026"
    second[column["policy_no"]], second[column["product_type"]], second[column["channel"]] = "BAD0000002", "储蓄型", "直销"
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([first, second])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return replace(base, console=replace(base.console, upload_dir=str(tmp_path / "uploads")))


def test_a_50000_row_upload_shows_progress_and_ends_with_the_clis_counts(
        page: Page, live_console: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "新契约清单.csv"
    write_csv(path, ROWS - 2, seed=7, today=date(2026, 11, 25), chinese_headers=True)
    with_two_bad_rows(path)
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="保单导入").click()
    page.get_by_label("保单文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并导入").click()
    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"))
    bar = page.get_by_role("progressbar", name="导入进度")
    expect(bar).to_have_attribute("max", str(ROWS))
    expect(bar).not_to_have_attribute("value", "0", timeout=120_000)  # moved after a committed chunk
    moved = int(bar.get_attribute("value") or 0)
    assert 0 < moved < ROWS  # seen part-way, by polling (htmx), not only at the end
    expect(page.get_by_role("heading", name=re.compile("导入结果"))).to_be_visible(timeout=600_000)
    expect(page.get_by_text("已完成")).to_be_visible()
    with Session(engine) as s:
        job = s.scalars(select(ImportJob)).one()
        summary = job.summary
    expected = cli_summary(tmp_path, path)
    assert summary == expected
    facts = page.locator("#summary dl")
    for label, key in (("读取行数", "rows"), ("新增保单", "imported"), ("新建回访任务", "tasks_created")):
        expect(facts.locator(f"dt:text-is('{label}') + dd")).to_have_text(str(expected[key]))
    assert (expected["rows"], expected["rejected_rows"], expected["errors"]) == (ROWS, 2, 3)
    expect(facts.locator("dt:text-is('被拒绝行') + dd")).to_have_text("2（3 处错误）")
    rejected = page.locator("#rejected tbody tr")
    expect(rejected).to_have_count(3)
    expect(rejected.filter(has_text="直销")).to_contain_text("销售渠道")
    expect(page.get_by_role("link", name="下载被拒绝行（XLSX）")).to_be_visible()
    _shot(page, tmp_path, "imports", publish=True)
