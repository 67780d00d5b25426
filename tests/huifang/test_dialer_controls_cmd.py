"""`huifang dialer pause | resume | status` (docs/cli.md; the JSON is a contract: /work/shared/docs/interfaces.md):
real config and database, the operator named by HUIFANG_OPERATOR, Twilio's REST API mocked for the tick."""

from __future__ import annotations

import json
from pathlib import Path

import responses
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.cli import cli
from storage.models import AuditEvent
from tests.factories import policy_row, write_csv
from tests.huifang.test_dialer_cmd import ACCOUNT, CALLS, _env


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["dialer", *args], env=env)


def _json(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_pause_resume_and_status_print_the_documented_json(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path, HUIFANG_OPERATOR="值班主管")
    rows = [policy_row(), policy_row(branch_code="120100", branch_name="天津分公司", product_type="health")]
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", rows))], env=env).exit_code == 0
    beijing = {"branch": "110100", "product_type": None, "since": "2026-11-25T10:00:00+08:00", "by": "值班主管",
               "reason": "核对名单"}
    assert _json(_run(env, "pause", "--branch", "110100", "--reason", "核对名单", "--json")) == {"paused": [beijing]}
    health = {**beijing, "branch": None, "product_type": "health", "reason": "健康险话术更新"}
    assert _json(_run(env, "pause", "--product-type", "health", "--reason", "健康险话术更新", "--json")) == \
        {"paused": [beijing, health]}

    with responses.RequestsMock() as twilio:  # both policies are held back: nothing is placed
        result = _json(_run(env, "--once", "--json"))
        assert (result["claimed"], result["placed"], result["paused"]) == (0, 0, 2)
        assert len(twilio.calls) == 0
    status = _json(_run(env, "status", "--json"))
    assert status["paused"] == [beijing, health]
    assert (status["due"], status["due_paused"]) == (2, 2)
    [dialer] = status["dialers"]  # type: ignore[misc]
    assert dialer["last_tick"] == "2026-11-25T10:00:00+08:00"
    assert (dialer["in_flight"], dialer["stale"], dialer["backoff_until"]) == (0, False, None)
    assert ":" in dialer["name"]  # host:pid

    assert _json(_run(env, "resume", "--product-type", "health", "--reason", "话术已更新", "--json")) == \
        {"paused": [beijing]}
    sids = iter(f"CA{i:032d}" for i in range(1, 10))
    with responses.RequestsMock() as twilio:
        twilio.add_callback(responses.POST, CALLS, callback=lambda _request: (
            201, {}, json.dumps({"sid": next(sids), "account_sid": ACCOUNT, "status": "queued"})))
        result = _json(_run(env, "--once", "--json"))
        assert (result["placed"], result["paused"]) == (1, 1)  # Tianjin's health policy; Beijing still paused
        assert "To=%2B86137" in twilio.calls[0].request.body
    status = _json(_run(env, "status", "--json"))
    assert status["dialers"][0]["in_flight"] == 1  # type: ignore[index]
    with Session(engine) as s:
        audit = [(e.operator, e.action, e.reason) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
                 if e.action.startswith("dialer_")]
    assert audit == [("值班主管", "dialer_paused", "核对名单"), ("值班主管", "dialer_paused", "健康险话术更新"),
                     ("值班主管", "dialer_resumed", "话术已更新")]


def test_refusals_are_one_line_and_exit_1(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [policy_row()]))],
                              env=env).exit_code == 0
    not_paused = _run(env, "resume", "--branch", "110100", "--reason", "x")
    assert not_paused.exit_code == 1
    assert not_paused.stderr.strip() == "Error: branch 110100 is not paused (paused now: nothing)"
    assert _run(env, "pause", "--reason", "全部暂停").exit_code == 0
    twice = _run(env, "pause", "--reason", "again")
    assert (twice.exit_code, twice.stderr.count("\n")) == (1, 1)
    assert "all calling is paused already" in twice.stderr
    unknown = _run(env, "pause", "--branch", "999999", "--reason", "x")
    assert (unknown.exit_code, unknown.stderr.strip()) == (
        1, "Error: --branch '999999': no such branch (branches come with imported policies)")
    assert _run(env, "pause", "--branch", "110100").exit_code == 2  # --reason is required
    assert _run(env, "pause", "--product-type", "annuity", "--reason", "x").exit_code == 2
    human = _run(env, "status")
    assert human.exit_code == 0
    assert "all     all" in human.stdout
    assert "due now: 1 (1 held back by the pauses)" in human.stdout
    assert "Traceback" not in human.stderr + twice.stderr + unknown.stderr
