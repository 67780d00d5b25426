"""`huifang dialer --once/--drain`: real config, real database, Twilio's REST API mocked."""

from __future__ import annotations

import json
from pathlib import Path

import responses
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huifang.cli import cli
from kit.vocab import TaskStatus
from storage.models import CallbackTask
from tests.factories import policy_row, write_csv

ACCOUNT = "AC" + "2" * 32
CALLS = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00",
            "HUIFANG__TWILIO__ACCOUNT_SID": json.dumps(ACCOUNT), "HUIFANG__TWILIO__AUTH_TOKEN": '"token"',
            "HUIFANG__DIALER__CALLER_ID": '"+861085550000"', "HUIFANG__DIALER__CALLS_PER_SECOND": "0",
            "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(tmp_path / "prompts")), **extra}


def test_once_places_the_due_calls_and_prepares_their_prompts(engine: Engine, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    path = write_csv(tmp_path / "p.csv", [policy_row(), policy_row(), policy_row()])
    env = _env(db_url, tmp_path, HUIFANG__DIALER__BATCH_SIZE="2")
    assert runner.invoke(cli, ["import", str(path)], env=env).exit_code == 0
    sids = iter(f"CA{i:032d}" for i in range(1, 10))
    with responses.RequestsMock() as twilio:
        twilio.add_callback(responses.POST, CALLS, callback=lambda _request: (
            201, {}, json.dumps({"sid": next(sids), "account_sid": ACCOUNT, "status": "queued"})))
        result = runner.invoke(cli, ["dialer", "--once", "--json"], env=env)
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["claimed"], summary["placed"]) == (2, 2)
        assert (summary["waited_for_slot"], summary["slot_wait_s"]) == (0, 0.0)  # unpaced (calls_per_second 0)
        assert len(twilio.calls) == 2
    with Session(engine) as s:
        statuses = sorted(t.status.value for t in s.scalars(select(CallbackTask)))
    assert statuses == [TaskStatus.IN_PROGRESS.value] * 2 + [TaskStatus.QUEUED.value]
    assert len(list((tmp_path / "prompts").rglob("*.wav"))) > 10  # rendered before dialing


def test_without_credentials_the_dialer_says_so_in_one_line(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path, HUIFANG__TWILIO__ACCOUNT_SID='""')
    result = CliRunner().invoke(cli, ["dialer", "--once"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("twilio.account_sid and twilio.auth_token are needed to place calls")
    assert "Traceback" not in result.stderr


def test_tasks_appoint_books_a_time_and_refuses_the_night(engine: Engine, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    row = policy_row()
    env = _env(db_url, tmp_path)
    assert runner.invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [row]))], env=env).exit_code == 0
    ok = runner.invoke(cli, ["tasks", "appoint", row["policy_no"], "--at", "2026-11-26T08:30:00+08:00", "--json"],
                       env=env)
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout) == {"policy_no": row["policy_no"], "appointment_at": "2026-11-26T08:30:00+08:00"}
    night = runner.invoke(cli, ["tasks", "appoint", row["policy_no"], "--at", "2026-11-26T22:00:00+08:00"], env=env)
    assert night.exit_code == 1
    assert "is in the night" in night.stderr
    past = runner.invoke(cli, ["tasks", "appoint", row["policy_no"], "--at", "2026-11-24T10:00:00+08:00"], env=env)
    assert "is not in the future" in past.stderr
    unknown = runner.invoke(cli, ["tasks", "appoint", "NOPE", "--at", "2026-11-26T10:00:00+08:00"], env=env)
    assert "no callback task for policy NOPE" in unknown.stderr
    with Session(engine) as s:
        task = s.scalars(select(CallbackTask)).one()
        assert task.appointment_at is not None
        assert task.appointment_at.isoformat() == "2026-11-26T00:30:00+00:00"
