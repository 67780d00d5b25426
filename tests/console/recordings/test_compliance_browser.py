"""The compliance officer's journey in real Chromium: find a recording, give the reason, play it, download the
policy's export bundle (it verifies against its manifest), and see those three actions by that user on the
audit trail page. The page's screenshot: docs/screenshots/compliance.png (HUIFANG_UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect

from huifang.cli import cli
from tests.console.conftest import PASSWORD
from tests.console.recordings.conftest import Recorded
from tests.console.recordings.test_playback_audit import served  # noqa: F401  (the fixture)

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


@pytest.mark.browser
def test_compliance_finds_plays_downloads_and_sees_it_on_the_audit_trail(
        recorded: Recorded, served: str, tmp_path: Path, page: Page) -> None:  # noqa: F811
    recorded.sign_in("合规李")  # the account (the test client's sign-in is not the browser's)
    page.goto(f"{served}/console/login")
    page.get_by_label("用户名").fill("合规李")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="录音调阅").click()

    page.get_by_label("保单号").fill("TJ1")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("cell", name="钱进")).to_be_visible()
    expect(page.get_by_role("cell", name="赵敏")).to_have_count(0)
    expect(page.get_by_text("请先填写调阅事由，再收听")).to_be_visible()

    page.get_by_label("调阅事由").fill("客户投诉 2026-0042 复核")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_text("调阅事由已记录")).to_be_visible()
    player = page.get_by_label("通话录音 2026-11-25 10:00 · 时长 1 分 05 秒")
    with page.expect_response(lambda r: "/audio" in r.url) as audio:
        player.evaluate("a => a.play()")
    assert audio.value.status in (200, 206)
    page.wait_for_function("() => document.querySelector('audio').ended")
    page.get_by_label("导出事由").fill("客户投诉 2026-0042")
    if os.environ.get("HUIFANG_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "compliance.png"))
    page.screenshot(path=str(tmp_path / "compliance.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载证据包").click()
    assert download.value.suggested_filename.startswith("回访证据包-TJ1-")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    verified = CliRunner().invoke(cli, ["recordings", "verify-bundle", str(saved), "--json"])
    assert (verified.exit_code, json.loads(verified.stdout)) == (0, {"ok": True, "files": 3})

    page.get_by_role("link", name="审计日志").click()
    page.get_by_label("用户", exact=True).fill("合规李")
    page.get_by_role("button", name="查询").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text("导出证据包")  # newest first
    actions = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    # each page of results shown was a search (the desk, TJ1, TJ1 again after the reason), then one playback;
    # signing in (the test client's, then the browser's) is on the trail too
    assert actions == ["导出证据包", "收听录音", "查询录音", "查询录音", "查询录音", "登录", "登录"], actions
    expect(rows.nth(0)).to_contain_text("回访证据包-TJ1-")
    expect(rows.nth(1)).to_contain_text("客户投诉 2026-0042 复核")
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
