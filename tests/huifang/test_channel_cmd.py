"""`huifang tasks channel` (docs/interfaces.md): the task object plus its channel; a refusal is one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, text

from tests.factories import policy_row, write_csv
from tests.huifang.test_cli import TASK_FIELDS, run, run_json

pytestmark = pytest.mark.db


@pytest.fixture
def policy(db_url: str, tmp_path: Path) -> str:
    run(db_url, "db", "upgrade")
    run_json(db_url, "import", str(write_csv(tmp_path / "p.csv", [policy_row(policy_no="C1")])))
    return "C1"


def one_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_move_prints_the_task_with_its_channel_and_opens_the_work_order(db_url: str, policy: str) -> None:
    moved = run_json(db_url, "tasks", "channel", policy, "--to", "letter", "--reason", "电话多次未接通")
    assert set(moved) == TASK_FIELDS | {"policy_no", "channel", "case_id"}
    assert (moved["policy_no"], moved["channel"], moved["status"]) == ("C1", "letter", "queued")
    shown = run_json(db_url, "policies", "show", policy)
    [case] = shown["cases"]
    assert (case["id"], case["type"]) == (moved["case_id"], "letter_case")
    assert "电话多次未接通" in case["detail"]
    audit = run_json(db_url, "audit", "list")
    assert [(e["action"], e["target"], e["reason"]) for e in audit if e["action"] == "channel"] == [
        ("channel", "policy C1", "电话多次未接通")]
    again = run_json(db_url, "tasks", "channel", policy, "--to", "letter", "--reason", "再次提交")
    assert (again["channel"], again["case_id"]) == ("letter", None)  # nothing changed, no second work order
    assert len(run_json(db_url, "policies", "show", policy)["cases"]) == 1


def test_the_human_output_says_what_moved(db_url: str, policy: str) -> None:
    result = run(db_url, "tasks", "channel", policy, "--to", "ecallback", "--reason", "投保人要求短信链接")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "C1: phone → ecallback"
    assert any(line.split() == ["channel", "ecallback"] for line in result.stdout.splitlines())


def test_a_successful_callback_is_refused_in_one_line(db_url: str, policy: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE callback_tasks SET status = 'completed', result_class = 'standard'"))
    line = one_line(run(db_url, "tasks", "channel", policy, "--to", "visit", "--reason", "分公司决定"))
    assert line == "Error: policy C1: the callback already succeeded (standard); nothing is left to do on another channel"
    assert run_json(db_url, "policies", "show", policy)["cases"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["NOPE", "--to", "letter", "--reason", "x"], "Error: no callback task for policy NOPE"),
    (["C1", "--to", "letter", "--reason", "  "], "Error: --reason: say why the callback moves to another channel"),
])
def test_an_unknown_policy_or_a_blank_reason_is_one_line(db_url: str, policy: str, args: list[str],
                                                         message: str) -> None:
    assert one_line(run(db_url, "tasks", "channel", *args)).startswith(message)


def test_an_unknown_channel_is_refused_by_the_option(db_url: str, policy: str) -> None:
    result = run(db_url, "tasks", "channel", policy, "--to", "fax", "--reason", "x")
    assert result.exit_code == 2
    assert "'fax' is not one of" in result.stderr


def test_a_visit_recorded_on_the_command_line_names_a_visitor_who_is_not_the_agent(db_url: str, policy: str) -> None:
    case_id = run_json(db_url, "tasks", "channel", policy, "--to", "visit", "--reason", "客户要求上门")["case_id"]
    resolve = ["cases", "resolve", str(case_id), "--action", "signed_questionnaire", "--note", "问卷已签字"]
    line = one_line(run(db_url, *resolve, "--visitor", "A1001"))
    assert line == (f"Error: case {case_id}: --visitor: the in-person visit may not be made by the policy's own agent "
                    "(A1001): callback staff are never the sales agent (§14 rule 45)")
    done = run_json(db_url, *resolve, "--visitor", "李访")
    assert (done["status"], done["history"][-1]["note"]) == ("closed", "visitor 李访; 问卷已签字")
