"""The supervisor stops and restarts calling from the dialer page in real Chromium, and the dialer obeys:
`huifang dialer --once` (the CLI run in-process against the same database, Twilio's REST API mocked) places
nothing for the paused branch, then places it once resumed in the page. The page's dialer table picks up the
dialer's heartbeat by itself (htmx polling). Screenshot: docs/screenshots/dialer.png with
HUIFANG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses
from click.testing import CliRunner
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.cli import cli
from storage.models import Policy
from tests.console.test_browser import _shot, _sign_in
from tests.huifang.test_dialer_cmd import ACCOUNT, CALLS, _env

pytestmark = pytest.mark.browser


def _once(env: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """`huifang dialer --once --json`: its summary, and the numbers it asked Twilio to call."""
    sids = iter(f"CA{i:032d}" for i in range(1, 10))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as twilio:
        twilio.add_callback(responses.POST, CALLS, callback=lambda _request: (
            201, {}, json.dumps({"sid": next(sids), "account_sid": ACCOUNT, "status": "queued"})))
        result = CliRunner().invoke(cli, ["dialer", "--once", "--json"], env=env)
        assert result.exit_code == 0, result.stderr
        dialled = [parse_qs(str(call.request.body))["To"][0] for call in twilio.calls]
    return json.loads(result.stdout), dialled


def _phone(engine: Engine, policy_no: str) -> str:
    with Session(engine) as s:
        return s.scalars(select(Policy.applicant_phone).where(Policy.policy_no == policy_no)).one()


def test_a_supervisor_pauses_a_branch_the_dialer_skips_it_and_resumes_it(
        page: Page, live_console: str, engine: Engine, db_url: str, tmp_path: Path) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    env = _env(db_url, tmp_path)
    beijing, tianjin = _phone(engine, "BJ1"), _phone(engine, "TJ1")
    _sign_in(page, live_console, "张总")
    page.get_by_role("link", name="拨号控制").click()
    expect(page.get_by_role("heading", name="拨号控制")).to_be_visible()
    pause = page.get_by_role("form", name="暂停拨号")
    pause.get_by_label("机构").select_option(label="北京分公司（110100）")
    pause.get_by_label("原因").fill("北京分公司号码批次待核对")
    pause.get_by_role("button", name="暂停拨号").click()
    expect(page.get_by_text("已暂停拨号：机构 北京分公司（110100）")).to_be_visible()
    paused = page.get_by_role("region", name="当前暂停")
    expect(paused.get_by_role("cell", name="北京分公司号码批次待核对")).to_be_visible()
    expect(paused.get_by_role("cell", name="张总")).to_be_visible()

    summary, dialled = _once(env)  # the dialer's next tick: Beijing waits, Tianjin is called
    assert (summary["placed"], summary["paused"], dialled) == (1, 1, [tianjin])

    page.evaluate("() => { window.notReloaded = true; }")
    dialers = page.get_by_role("region", name="拨号程序")
    ran = dialers.get_by_role("row").filter(has_text="单次运行")
    expect(ran).to_contain_text("2026-11-25 10:00:00", timeout=15_000)  # its heartbeat, polled in (every 10 s)
    assert page.evaluate("() => window.notReloaded === true")
    expect(dialers).to_contain_text("当前待拨 1 件（其中暂停中 1 件）")
    due_today = page.get_by_role("region", name="今日待拨").get_by_role("row").filter(has_text="到期任务")
    expect(due_today.get_by_role("cell").last).to_have_text("1")  # 合计: Beijing's task, waiting
    _shot(page, tmp_path, "dialer", publish=True)

    row = paused.get_by_role("row").filter(has_text="北京分公司（110100）")
    row.get_by_label("恢复原因").fill("号码已核对")
    row.get_by_role("button", name="恢复拨号").click()
    expect(page.get_by_text("已恢复拨号：机构 北京分公司（110100）")).to_be_visible()
    expect(paused.get_by_text("当前没有暂停")).to_be_visible()
    history = page.get_by_role("region", name="暂停记录")
    expect(history.get_by_role("cell", name="号码已核对")).to_be_visible()

    summary, dialled = _once(env)
    assert (summary["placed"], summary["paused"], dialled) == (1, 0, [beijing])
    assert re.match(r"^\+86", beijing)
    assert blocked == []
