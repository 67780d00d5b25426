"""保单导入 in a real browser with the sample file (seconds, not the 50,000-row test): the rejected rows read in
Chinese, and the held-tasks list filters by reason through its form (htmx), keeping the filter in the URL.
Screenshots: imports-rejected.png and imports-held.png (docs/screenshots/ with HUIFANG_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kit.settings import Settings
from tests.console.test_browser import _shot, _sign_in
from tests.console.test_imports import SAMPLE

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return replace(base, console=replace(base.console, upload_dir=str(tmp_path / "uploads")))


def test_rejected_rows_read_in_chinese_and_held_tasks_filter_by_reason(page: Page, live_console: str,
                                                                       tmp_path: Path) -> None:
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="保单导入").click()
    page.get_by_label("保单文件").set_input_files(str(SAMPLE))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.get_by_role("heading", name=re.compile("导入结果"))).to_be_visible(timeout=60_000)
    rejected = page.locator("#rejected tbody tr")
    expect(rejected).to_have_count(6)
    expect(rejected.filter(has_text="产品类型「储蓄型」不是可识别的取值（可填：传统、分红、万能、投连、健康）")).to_have_count(1)
    expect(rejected.filter(has_text="投保人姓名为必填项，不能为空")).to_have_count(1)
    page.locator("#rejected").scroll_into_view_if_needed()  # the published first screen shows the rows
    _shot(page, tmp_path, "imports-rejected", publish=True)

    page.get_by_role("link", name="号码挂起任务", exact=True).click()
    listed = page.locator("table.list tbody tr")
    expect(listed).to_have_count(7)  # the sample's 7 held tasks (the CLI's held count)
    expect(page.get_by_text("共 7 条")).to_be_visible()
    page.get_by_label("挂起原因").select_option("wrong_number")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"/console/imports/held\?reason=wrong_number"))
    expect(listed).to_have_count(3)
    for n in range(3):
        expect(listed.nth(n)).to_contain_text("电话有误")
    _shot(page, tmp_path, "imports-held", publish=True)
