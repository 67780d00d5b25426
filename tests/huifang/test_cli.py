"""The CLI promises of docs/interfaces.md, run against a real database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from huifang.cli import cli
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "policies.csv"
NOW = "2026-11-25T10:00:00+08:00"
TASK_FIELDS = {"status", "hold_reasons", "opens_on", "deadline", "questionnaire_variant", "attempts",
               "result_class", "reason_codes", "late"}
CASE_FIELDS = {"id", "type", "reason", "branch_code", "status", "sla_status", "created_at", "due_at"}


def run(db_url: str, *args: str, **env: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, list(args), env={"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": NOW, **env},
                         catch_exceptions=False)


def run_json(db_url: str, *args: str) -> Any:
    result = run(db_url, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


class TestImportAndInspect:
    def test_sample_file_end_to_end(self, db_url: str) -> None:
        assert run(db_url, "db", "upgrade").exit_code == 0
        summary = run_json(db_url, "import", str(SAMPLE))
        assert set(summary) >= {"rows", "imported", "updated", "excluded", "tasks_created", "held", "rejected"}
        assert summary["rows"] == 52
        assert summary["rejected"]
        assert all(set(r) == {"row", "column", "error", "error_zh"} for r in summary["rejected"])
        assert summary["imported"] == summary["rows"] - len({r["row"] for r in summary["rejected"]})
        assert summary["held"] == 7  # 1 agent phone + 3 shared + 3 wrong numbers
        assert summary["ignored_columns"] == ["备注"]

        tasks = run_json(db_url, "tasks", "list")
        assert len(tasks) == summary["tasks_created"]
        assert all(set(t) == TASK_FIELDS | {"policy_no"} for t in tasks)
        held = run_json(db_url, "tasks", "list", "--status", "held")
        assert {t["policy_no"] for t in held} == {t["policy_no"] for t in tasks if t["status"] == "held"}
        assert len(held) == 7
        shanghai = run_json(db_url, "tasks", "list", "--branch", "310100")
        assert 0 < len(shanghai) < len(tasks)

        again = run_json(db_url, "import", str(SAMPLE))
        assert (again["imported"], again["tasks_created"], again["updated"]) == (0, 0, 0)

    def test_policies_show(self, db_url: str, tmp_path: Path) -> None:
        run(db_url, "db", "upgrade")
        path = write_csv(tmp_path / "p.csv", [policy_row(policy_no="P1", applicant_phone="13911110001")])
        run_json(db_url, "import", str(path))
        shown = run_json(db_url, "policies", "show", "P1")
        assert shown["policy_no"] == "P1"
        assert shown["callback_required"] is True
        assert shown["exclusion_reason"] is None
        assert shown["cooling_off_end"] == "2026-12-01"
        assert set(shown["task"]) == TASK_FIELDS
        assert shown["task"]["hold_reasons"] == ["duplicate_number"]
        assert shown["task"]["late"] is False
        [case] = shown["cases"]
        assert set(case) >= CASE_FIELDS
        assert (case["type"], case["reason"], case["branch_code"], case["sla_status"]) == (
            "verification_case", "duplicate_number", "110100", "normal")
        assert case["created_at"] == NOW
        assert case["due_at"] == "2026-12-02T10:00:00+08:00"
        assert shown["calls"] == []

    def test_human_output_is_a_table(self, db_url: str) -> None:
        run(db_url, "db", "upgrade")
        result = run(db_url, "import", str(SAMPLE))
        assert "52 rows: 46 new" in result.stdout
        assert "身份证" not in result.stdout  # messages are English with the Chinese column label
        assert "applicant_id_no (投保人证件号)" in result.stdout
        listing = run(db_url, "tasks", "list", "--status", "held")
        assert listing.stdout.splitlines()[0].split() == ["policy_no", "status", "holds", "opens_on", "deadline",
                                                          "variant", "attempts", "late"]


class TestErrors:
    def one_line(self, result: Result) -> str:
        assert result.exit_code != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        return lines[0]

    def test_unknown_policy(self, db_url: str) -> None:
        run(db_url, "db", "upgrade")
        assert self.one_line(run(db_url, "policies", "show", "NOPE")) == "huifang: no policy NOPE"

    def test_missing_file(self, db_url: str, tmp_path: Path) -> None:
        run(db_url, "db", "upgrade")
        assert "no such file" in self.one_line(run(db_url, "import", str(tmp_path / "none.csv")))

    def test_missing_column(self, db_url: str, tmp_path: Path) -> None:
        run(db_url, "db", "upgrade")
        path = tmp_path / "p.csv"
        path.write_text("policy_no\nP1\n", encoding="utf-8")
        assert "missing required column(s)" in self.one_line(run(db_url, "import", str(path)))

    def test_a_file_that_breaks_half_way_keeps_the_chunks_before_and_says_so(
            self, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import intake.service

        monkeypatch.setattr(intake.service, "CHUNK_ROWS", 5)
        run(db_url, "db", "upgrade")
        rows = [policy_row() for _ in range(100)]
        good = write_csv(tmp_path / "good.csv", rows, encoding="utf-8-sig")
        broken = tmp_path / "broken.csv"  # a BOM says UTF-8, so the bytes are first decoded as they are read
        broken.write_bytes(good.read_bytes() + b"\xff\xfe,broken\r\n")
        message = self.one_line(run(db_url, "import", str(broken)))
        found = re.fullmatch(r"huifang: the import stopped after row (\d+) \(UnicodeDecodeError: .*\); (\d+) rows are "
                             r"committed \(\2 new, 0 updated, 0 unchanged, 0 rejected\), none after it; until the file "
                             r"is imported again, .* stay held \(phones not checked yet\)\. Import the same file "
                             r"again to finish: rows already in come back unchanged", message)
        assert found is not None, message
        committed = int(found[2])
        assert int(found[1]) == committed + 1  # rows 2 … committed + 1 (the header is row 1)
        assert 0 < committed < 100
        assert committed % 5 == 0  # whole chunks only
        assert len(run_json(db_url, "tasks", "list")) == committed
        again = run_json(db_url, "import", str(good))
        assert (again["imported"], again["unchanged"], again["tasks_created"]) == (100 - committed, committed,
                                                                                  100 - committed)
        assert {t["status"] for t in run_json(db_url, "tasks", "list")} == {"queued"}

    def test_schema_not_created(self, db_url: str, tmp_path: Path) -> None:
        fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
        assert "run `huifang db upgrade`" in self.one_line(run(fresh, "tasks", "list"))

    @pytest.mark.parametrize("command", [["users", "list"], ["cases", "list"], ["report", "kpi", "--month", "2026-11"],
                                         ["audit", "list"], ["recordings", "fetch"], ["policies", "show", "P1"]])
    def test_every_command_without_the_schema_says_so_in_one_line(self, tmp_path: Path, command: list[str]) -> None:
        fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
        result = run(fresh, *command)
        assert (result.exit_code, self.one_line(result)) == (1, "huifang: the database has no huifang schema yet: "
                                                                "run `huifang db upgrade`")

    def test_unreachable_database(self) -> None:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
        assert self.one_line(run(url, "tasks", "list")).startswith("huifang: database error:")

    def test_bad_config(self, db_url: str, tmp_path: Path) -> None:
        config = tmp_path / "c.toml"
        config.write_text("[phone]\nduplicate_applicants_threshold = 0\n", encoding="utf-8")
        line = self.one_line(run(db_url, "--config", str(config), "tasks", "list"))
        assert "phone.duplicate_applicants_threshold" in line

    def test_bad_clock_override(self, db_url: str) -> None:
        assert "HUIFANG_NOW" in self.one_line(run(db_url, "tasks", "list", HUIFANG_NOW="yesterday"))


@pytest.mark.parametrize("chinese", [True, False])
def test_xlsx_and_csv_headers_import_alike(db_url: str, tmp_path: Path, chinese: bool) -> None:
    import openpyxl

    from intake.columns import COLUMNS

    run(db_url, "db", "upgrade")
    row = policy_row(policy_no="X1")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([c.label_zh if chinese else c.name for c in COLUMNS])
    sheet.append([row[c.name] for c in COLUMNS])
    path = tmp_path / "p.xlsx"
    workbook.save(path)
    summary = run_json(db_url, "import", str(path))
    assert (summary["imported"], summary["tasks_created"]) == (1, 1)


class TestFlowsCheck:
    def test_shipped_flows_pass(self) -> None:
        result = CliRunner().invoke(cli, ["flows", "check", "--json"], env={"HUIFANG_NOW": NOW})
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["ok"] is True
        assert data["errors"] == []
        assert {f["id"] for f in data["flows"]} == {"traditional", "participating", "universal",
                                                    "investment_linked", "health"}
        assert all(len(f["hash"]) == 64 and f["version"] >= 1 for f in data["flows"])

    def test_a_broken_flow_fails_with_file_and_line(self, tmp_path: Path) -> None:
        import shutil

        from flows.library import SHIPPED

        shutil.copytree(SHIPPED, tmp_path / "f")
        core = tmp_path / "f" / "modules" / "core.yaml"
        core.write_text(core.read_text(encoding="utf-8").replace("{policy_term}", "{term}", 1), encoding="utf-8")
        result = CliRunner().invoke(cli, ["flows", "check", str(tmp_path / "f"), "--json"])
        assert result.exit_code == 1
        data = json.loads(result.stdout)
        assert data["ok"] is False
        assert {"file": "modules/core.yaml", "line": 31, "message": "step 'understand_coverage': unknown placeholder {term}"} in data["errors"]
        human = CliRunner().invoke(cli, ["flows", "check", str(tmp_path / "f")])
        assert "modules/core.yaml:31: step 'understand_coverage': unknown placeholder {term}" in human.stdout

    def test_a_missing_path_is_one_line(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(cli, ["flows", "check", str(tmp_path / "none")])
        assert result.exit_code == 1
        assert "no such file or directory" in result.stderr
