"""A branch handler moves a callback to a letter on the case page, in a real browser (headless chromium): a
blank reason is refused beside the field, then the move is made and said."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from tests.console.conftest import case_of
from tests.console.test_browser import _shot, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_a_handler_moves_the_callback_to_a_letter(page: Page, live_console: str, engine: Engine,
                                                   tmp_path: Path) -> None:
    _sign_in(page, live_console, "王芳")
    page.goto(f"{live_console}/console/cases/{case_of('BJ1', engine)}")
    page.get_by_label("回访方式").select_option(label="信函回访")
    page.get_by_role("button", name="转换").click()  # the browser asks for the required reason first
    expect(page.get_by_text("已转为")).to_have_count(0)
    page.get_by_label("原因").fill("电话三次未接通，客户要求寄信")
    page.get_by_role("button", name="转换").click()
    expect(page.get_by_role("status")).to_contain_text("已转为信函回访，已生成信函件")
    expect(page.get_by_text("当前回访方式：信函回访")).to_be_visible()
    _shot(page, tmp_path, "case-channel")
