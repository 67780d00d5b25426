"""`huifang import` as a new user meets it: rejected rows counted apart from their errors, enumerations that name
the Chinese words they accept, a file in an unsupported encoding named as such, the exit status of a partly and
a wholly rejected file, and the progress bar (on a terminal only)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from huifang.cli import cli
from intake.columns import COLUMNS
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-25T10:00:00+08:00"


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": NOW},
                              catch_exceptions=False)


def test_a_row_with_two_errors_is_one_rejected_row(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no="OK1"),
                                           policy_row(policy_no="BAD", premium="0", channel="直销")])
    text = run(db_url, "import", str(path))
    assert text.exit_code == 0  # partly rejected: the import ran to its end (docs/cli.md, exit status)
    assert text.stdout.splitlines()[0].startswith("2 rows: 1 new, 0 updated, 0 unchanged, 1 rejected (2 errors);")
    summary = json.loads(run(db_url, "import", str(path), "--json").stdout)
    assert (summary["rejected_rows"], summary["errors"], len(summary["rejected"])) == (1, 2, 2)
    channel = next(r["error"] for r in summary["rejected"] if r["column"] == "channel")
    assert channel == ("channel (销售渠道): '直销' is not a known channel (agency/个险, bancassurance/银保, "
                       "intermediary/经代, telesales/电销, internet/网销)")
    # its Chinese twin (additive: `error` is unchanged), with the column's Chinese header and the words to use
    assert [(r["column"], r["error_zh"]) for r in summary["rejected"]] == [
        ("channel", "销售渠道「直销」不是可识别的取值（可填：个险、银保、经代、电销、网销）"),
        ("premium", "保费(元)「0」必须大于 0")]


def test_a_file_whose_every_row_is_rejected_exits_1_after_its_summary(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no="B1", product_type="储蓄型"),
                                           policy_row(policy_no="B2", issue_date="13/11/2026")])
    result = run(db_url, "import", str(path), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["rejected_rows"] == 2
    assert result.stderr == f"huifang: {path}: every row was rejected (2); nothing is imported\n"


def test_big5_and_utf16_are_named_as_unsupported_encodings(db_url: str, tmp_path: Path) -> None:
    header = ",".join(c.label_zh for c in COLUMNS)
    big5 = tmp_path / "big5.csv"
    big5.write_bytes(header.encode("big5", errors="replace") + b"\n")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(header + "\n", encoding="utf-16")
    for path in (big5, utf16):
        result = run(db_url, "import", str(path))
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1
        assert "is not in a supported encoding (supported: UTF-8, UTF-8 with BOM, GB18030/GBK" in result.stderr
        assert "missing required column" not in result.stderr


def test_the_progress_bar_is_drawn_on_a_terminal_only(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no=f"T{n}", applicant_phone=f"1390000200{n}")
                                           for n in range(5)])
    plain = run(db_url, "import", str(path))
    assert plain.exit_code == 0
    assert plain.stderr == ""
    main, tty = pty.openpty()
    env = {**os.environ, "HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": NOW, "COLUMNS": "120"}
    command = [sys.executable, "-c", "from huifang.cli import main; main()", "import", str(path)]
    done = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=tty)
    os.close(tty)
    drawn = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        assert ready, "no output from the import within 60 s"
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: the command has ended
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = done.communicate(timeout=60)
    os.close(main)
    assert done.returncode == 0
    assert b"importing" in drawn
    assert b"5/5" in drawn
    assert stdout.decode().startswith("5 rows: 0 new, 0 updated, 5 unchanged, 0 rejected (0 errors);")
