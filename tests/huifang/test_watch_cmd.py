"""`huifang watch DIR [--once] [--json]` and the dialer's `drop` job: real config, real database, no real sleeps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from huifang import dialer_cmd, watch_cmd
from huifang.app import App
from huifang.cli import cli
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, DropSettings, Settings
from storage.models import DroppedFile, Policy
from tests.conftest import NOW
from tests.factories import policy_row, write_csv


def _env(db_url: str) -> dict[str, str]:
    return {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00"}


def _policies(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Policy)) or 0


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(watch_cmd, "sleep", slept.append)
    return slept


def test_once_json_imports_and_reports_every_file(engine: Engine, db_url: str, tmp_path: Path,
                                                   waits: list[float]) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    write_csv(drop / "good.csv", [policy_row(), policy_row(issue_date="bad")])
    (drop / "notes.pdf").write_bytes(b"%PDF-1.4")
    (drop / "big.csv.part").write_text("policy_no\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["watch", str(drop), "--once", "--json"], env=_env(db_url))
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"imported_files", "failed_files", "duplicate_files", "waiting_files"}
    [good] = out["imported_files"]
    assert (good["file"], good["imported"], good["rejected_rows"]) == ("good.csv", 1, 1)
    assert (good["moved_to"], good["report"]) == ("done/good.csv", "done/good.csv.errors.csv")
    [pdf] = out["failed_files"]
    assert pdf["file"] == "notes.pdf"
    assert pdf["reason"] == "notes.pdf: unsupported file type '.pdf' (use .csv or .xlsx)"
    assert pdf["moved_to"] == "failed/notes.pdf"
    assert waits == [5]  # [drop] settle_seconds between the two looks
    assert (drop / "big.csv.part").exists()
    assert _policies(engine) == 1


def test_once_text_and_a_missing_folder(db_url: str, tmp_path: Path, waits: list[float]) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    write_csv(drop / "a.csv", [policy_row()])
    ok = CliRunner().invoke(cli, ["watch", str(drop), "--once"], env=_env(db_url))
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.startswith("imported a.csv: 1 rows, 1 new, 0 updated → done/a.csv")
    missing = CliRunner().invoke(cli, ["watch", str(tmp_path / "nowhere"), "--once"], env=_env(db_url))
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"huifang: {tmp_path / 'nowhere'}: no such folder"


def test_the_loop_prints_one_json_line_per_look_that_did_something(
        engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    write_csv(drop / "a.csv", [policy_row()])
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the third wait is Ctrl-C
        slept.append(seconds)
        if len(slept) == 1:
            write_csv(drop / "b.csv", [policy_row()])
        if len(slept) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch_cmd, "sleep", sleep)
    env = _env(db_url) | {"HUIFANG__DROP__INTERVAL_SECONDS": "7"}
    result = CliRunner().invoke(cli, ["watch", str(drop), "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    assert slept == [7, 7, 7]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [[f["file"] for f in line["imported_files"]] for line in lines] == [["a.csv"], ["b.csv"]]
    assert _policies(engine) == 2


def test_the_dialer_schedules_the_drop_job_only_with_a_folder_and_it_imports_at_its_second_look(
        engine: Engine, db_url: str, tmp_path: Path) -> None:
    drop = tmp_path / "sftp"
    drop.mkdir()
    base = dataclasses.replace(Settings(), database=DatabaseSettings(url=db_url))
    assert not dialer_cmd.JOBS["drop"].enabled(App(settings=base))
    app = App(settings=dataclasses.replace(base, drop=DropSettings(dir=str(drop), interval_seconds=20)),
              clock=FrozenClock(NOW))
    job = dialer_cmd.JOBS["drop"]
    assert job.enabled(app)
    assert job.every(app).total_seconds() == 20
    write_csv(drop / "p.csv", [policy_row(), policy_row()])
    try:
        first = job.run(app)
        assert first == {"imported_files": [], "failed_files": [], "duplicate_files": [], "waiting_files": ["p.csv"]}
        second = job.run(app)
        assert [f["file"] for f in second["imported_files"]] == ["p.csv"]  # type: ignore[index]
        assert _policies(engine) == 2
        with Session(engine) as s:
            assert s.scalars(select(DroppedFile.status)).all() == ["imported"]
    finally:
        watch_cmd._job_watchers.clear()
        app.close()
