"""号码挂起任务 (/console/imports/held) lists every task held now for its phone — whichever upload, CLI import or
dialer held it — within the viewer's branches, paginated and filtered by reason and branch; a hold left on a task
completed since (a letter callback) holds nothing and is not listed."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from console.imports import queries
from flows.vocab import ResultClass
from huifang.cli import cli
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from kit.vocab import TaskStatus
from storage.models import CallbackTask, Policy
from tasks.holds import hold_wrong_number
from tasks.lifecycle import TaskEvent, apply
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, login
from tests.console.test_imports import NOW as CLI_NOW
from tests.console.test_imports import finished, upload
from tests.factories import policy_row, write_csv

TIANJIN = {"branch_code": "120100", "branch_name": "天津分公司"}
AGENT_PHONE = policy_row()["agent_phone"]  # an applicant with the agent's number: duplicate_number
WRONG = "1370000123"  # ten digits: wrong_number


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return replace(base, console=replace(base.console, upload_dir=str(tmp_path / "uploads")))


@pytest.fixture
def supervisor(console: FlaskClient) -> FlaskClient:
    assert login(console, "张总") == "/console/"
    return console


def task_of(s: Session, policy_no: str) -> CallbackTask:
    return s.scalars(select(CallbackTask).join(Policy, Policy.id == CallbackTask.policy_id)
                     .where(Policy.policy_no == policy_no)).one()


@pytest.fixture
def held_everywhere(console_app: Flask, supervisor: FlaskClient, engine: Engine, db_url: str, tmp_path: Path,
                    settings: Settings, calendar: BusinessCalendar) -> dict[str, tuple[str, str]]:
    """Holds from an upload, from `huifang import` and from the dialer, in both branches, and one hold left on a
    task completed since. The policies listed: policy number → (reason, branch code)."""
    uploaded = write_csv(tmp_path / "upload.csv", [policy_row(policy_no="U1", applicant_phone=WRONG),
                                                    policy_row(policy_no="U2", applicant_phone=AGENT_PHONE, **TIANJIN)])
    finished(console_app, upload(supervisor, uploaded.read_bytes(), "upload.csv"))
    by_cli = write_csv(tmp_path / "cli.csv", [policy_row(policy_no="C1", applicant_phone=AGENT_PHONE),
                                              policy_row(policy_no="C2", applicant_phone=WRONG, **TIANJIN),
                                              policy_row(policy_no="C3", applicant_phone=WRONG)])
    result = CliRunner().invoke(cli, ["import", str(by_cli), "--json"],
                                env={"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": CLI_NOW})
    assert result.exit_code == 0, result.stderr
    with Session(engine) as s:
        hold_wrong_number(s, task_of(s, "BJ1"), "空号", now=NOW, cases=settings.cases, calendar=calendar)
        letter = task_of(s, "C3")
        assert letter.status is TaskStatus.HELD
        # called back by letter while the number was still held: the hold stays on record, unreleased
        apply(letter, TaskEvent.COMPLETE, NOW, result_class=ResultClass.STANDARD)
        add_user(s, operator_actor("root"), "吴刚", PASSWORD, ["branch", "admin"], ["110100"], now=NOW,
                 settings=settings.console)
        s.commit()
    return {"U1": ("wrong_number", "110100"), "U2": ("duplicate_number", "120100"),
            "C1": ("duplicate_number", "110100"), "C2": ("wrong_number", "120100"), "BJ1": ("wrong_number", "110100")}


def listed(client: FlaskClient, query: str = "") -> tuple[list[str], str]:
    """The policy numbers in the held list, in order, and the page."""
    page = client.get(f"/console/imports/held{query}").get_data(as_text=True)
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'href="/console/policies/([^"]+)"', body), page


def test_every_held_task_is_listed_whoever_held_it(supervisor: FlaskClient,
                                                   held_everywhere: dict[str, tuple[str, str]]) -> None:
    rows, page = listed(supervisor)
    assert sorted(rows) == sorted(held_everywhere)  # not C3: completed, its hold holds nothing
    assert rows[0] == "BJ1"  # the newest hold first (the dialer's)
    assert "共 <strong>5</strong> 条" in page
    assert len(re.findall(r'href="/console/cases/(\d+)">核实件 #\1</a>', page)) == 5
    assert "拨打投保人电话" in page  # the dialer's reason, as the branch reads it


@pytest.mark.parametrize(("query", "reason", "branch"), [
    ("?reason=wrong_number", "wrong_number", None),
    ("?reason=duplicate_number", "duplicate_number", None),
    ("?branch=120100", None, "120100"),
    ("?reason=duplicate_number&branch=110100", "duplicate_number", "110100"),
])
def test_the_list_filters_by_reason_and_branch(supervisor: FlaskClient, held_everywhere: dict[str, tuple[str, str]],
                                               query: str, reason: str | None, branch: str | None) -> None:
    rows, page = listed(supervisor, query)
    expected = {no for no, (r, b) in held_everywhere.items() if reason in (None, r) and branch in (None, b)}
    assert expected
    assert sorted(rows) == sorted(expected)
    assert f"共 <strong>{len(expected)}</strong> 条" in page
    if reason:
        assert f'<option value="{reason}" selected>' in page  # the filter stays shown


def test_an_unknown_reason_is_named_and_not_applied(supervisor: FlaskClient,
                                                    held_everywhere: dict[str, tuple[str, str]]) -> None:
    rows, page = listed(supervisor, "?reason=busy")
    assert "reason 参数无效：busy" in page
    assert len(rows) == len(held_everywhere)


def test_the_list_is_paginated_with_its_filters(supervisor: FlaskClient, held_everywhere: dict[str, tuple[str, str]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "HELD_PAGE_SIZE", 2)
    pages = [listed(supervisor, f"?page={n}") for n in (1, 2, 3)]
    seen = [no for rows, _ in pages for no in rows]
    assert [len(rows) for rows, _ in pages] == [2, 2, 1]
    assert sorted(seen) == sorted(held_everywhere)  # each once, none lost between pages
    assert 'href="?page=2">下一页' in pages[0][1]
    assert "下一页" not in pages[2][1]
    wrong, page = listed(supervisor, "?reason=wrong_number&page=2")
    assert len(wrong) == 1
    assert 'href="?reason=wrong_number&amp;page=1">上一页' in page


def test_a_viewer_sees_only_the_held_tasks_of_their_branches(console: FlaskClient,
                                                             held_everywhere: dict[str, tuple[str, str]]) -> None:
    assert login(console, "吴刚") != ""  # branch 110100 and admin: the imports desk, their branch's data
    rows, page = listed(console)
    assert sorted(rows) == sorted(no for no, (_, b) in held_everywhere.items() if b == "110100")
    rows, page = listed(console, "?branch=120100")
    assert rows == []
    assert "没有符合条件的挂起任务" in page
