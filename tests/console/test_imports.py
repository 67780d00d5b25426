"""保单导入 (/console/imports): an upload is stored privately and imported in the background by the intake of
`huifang import` (same counts as the CLI), its progress is in the database, a job whose process died is shown
as 中断 and can be imported again, the rejected rows read in Chinese (the English beside) and download as XLSX,
and the held tasks link to their verification case (tests/console/test_imports_held.py: the whole held list)."""

from __future__ import annotations

import io
import json
import re
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from console.imports import jobs
from console.imports.routes import runner
from huifang.cli import cli
from intake.columns import COLUMNS
from intake.service import ImportSummary
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.models import AuditEvent, ImportJob
from tests.console.conftest import csrf, login
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "policies.csv"
NOW = "2026-11-25T10:00:00+08:00"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return replace(base, console=replace(base.console, upload_dir=str(tmp_path / "uploads")))


@pytest.fixture
def supervisor(console: FlaskClient) -> FlaskClient:
    assert login(console, "张总") == "/console/"
    return console


def upload(client: FlaskClient, data: bytes, name: str = "policies.csv", **fields: str) -> TestResponse:
    form: dict[str, Any] = {"csrf_token": csrf(client, "/console/imports"), **fields}
    form["file"] = (io.BytesIO(data), name)
    return client.post("/console/imports", data=form, content_type="multipart/form-data")


def finished(app: Flask, reply: TestResponse) -> int:
    """The job the upload redirected to, once its thread has ended (waited on, not slept for)."""
    assert reply.status_code == 302, reply.get_data(as_text=True)
    found = re.fullmatch(r"/console/imports/(\d+)", reply.headers["Location"])
    assert found is not None
    job_id = int(found.group(1))
    with app.app_context():
        assert runner().wait(job_id, timeout=60)
    return job_id


def job_row(engine: Engine, job_id: int) -> ImportJob:
    with Session(engine) as s:
        found = s.get(ImportJob, job_id)
        assert found is not None
        return found


def cli_summary(tmp_path: Path, path: Path) -> dict[str, Any]:
    """`huifang import --json` of the same file into a database of its own (SQLite), at the same time."""
    env = {"HUIFANG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HUIFANG_NOW": NOW}
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    result = CliRunner().invoke(cli, ["import", str(path), "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_an_upload_is_imported_in_the_background_with_the_clis_counts(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, tmp_path: Path, settings: Settings) -> None:
    job_id = finished(console_app, upload(supervisor, SAMPLE.read_bytes(), "新契约清单.csv"))
    job = job_row(engine, job_id)
    assert (job.status, job.file_name, job.uploaded_by, job.rows_read, job.rows_total) == \
        ("done", "新契约清单.csv", "张总", 52, 52)
    assert job.summary == cli_summary(tmp_path, SAMPLE)
    assert job.summary["rejected_rows"] == 6
    stored = Path(job.stored_path)
    assert stored.parent == Path(settings.console.upload_dir)
    assert stored.read_bytes() == SAMPLE.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o750
    page = supervisor.get(f"/console/imports/{job_id}").get_data(as_text=True)
    assert "已完成" in page
    assert "被拒绝的行" in page
    assert "储蓄型" in page  # a rejected row's message, with its row number and column
    assert '<td>50</td><td>产品类型<br><small class="hint">product_type</small></td>' in page
    history = supervisor.get("/console/imports").get_data(as_text=True)
    assert job.sha256 in history
    assert "新契约清单.csv" in history
    assert "6（6）" in history
    with Session(engine) as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "policy_import")).one()
        assert (line.operator, line.target) == ("张总", f"import {job_id}: 新契约清单.csv")


def test_progress_is_written_after_every_chunk_and_polled_by_the_page(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no=f"P{n:03}", applicant_phone=f"1390000{n:04}")
                                           for n in range(25)])
    ctx = console_app.extensions["huifang.console"]
    seen: list[tuple[int, str, str]] = []

    class Watched(jobs.ImportRunner):
        def _progress(self, job_id: int, phase: str) -> Any:
            record = super()._progress(job_id, phase)

            def watched(summary: ImportSummary) -> None:
                record(summary)
                row = job_row(engine, job_id)
                seen.append((row.rows_read, row.phase, row.status))
            return watched

    console_app.extensions["huifang.imports"] = Watched(ctx.settings, ctx.calendar, ctx.clock, ctx.sessions,
                                                         chunk_rows=10)
    job_id = finished(console_app, upload(supervisor, path.read_bytes()))
    assert seen == [(10, "rows", "running"), (20, "rows", "running"), (25, "rows", "running"),
                    (25, "phones", "running")]
    assert job_row(engine, job_id).status == "done"
    with Session(engine) as s:  # the row as it was after the first chunk, as the page sees it while the job runs
        row = s.get(ImportJob, job_id)
        assert row is not None
        row.status, row.rows_read, row.phase = "running", 10, "rows"
        s.commit()
    polled = supervisor.get(f"/console/imports/{job_id}/progress")
    body = polled.get_data(as_text=True)
    assert '<progress max="25" value="10"' in body
    assert "hx-trigger=\"every 1s\"" in body
    assert "HX-Refresh" not in polled.headers
    page = supervisor.get(f"/console/imports/{job_id}").get_data(as_text=True)
    assert f'hx-get="/console/imports/{job_id}/progress"' in page
    with Session(engine) as s:
        s.get(ImportJob, job_id).status = "done"  # type: ignore[union-attr]
        s.commit()
    assert supervisor.get(f"/console/imports/{job_id}/progress").headers["HX-Refresh"] == "true"


def test_a_job_whose_process_died_is_shown_stale_and_can_be_imported_again(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, clock: FrozenClock, tmp_path: Path) -> None:
    """The process stopped after it took the job (status running, heartbeat at that moment): nothing says so
    until the heartbeat is older than import_stale_minutes; then 已中断, and the stored file imports again."""
    ctx = console_app.extensions["huifang.console"]
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no="S1")])
    with Session(engine) as s:
        stored = jobs.store_upload(io.BytesIO(path.read_bytes()), Path(ctx.settings.console.upload_dir), "p.csv",
                                   clock.now())
        dead = jobs.create_job(s, stored, "p.csv", "张总", clock.now())
        s.commit()
        dead_id = dead.id
    assert jobs.ImportRunner(ctx.settings, ctx.calendar, ctx.clock, ctx.sessions)._begin(dead_id) is not None
    assert "导入中" in supervisor.get(f"/console/imports/{dead_id}").get_data(as_text=True)
    clock.advance(timedelta(minutes=ctx.settings.console.import_stale_minutes, seconds=1))
    page = supervisor.get(f"/console/imports/{dead_id}").get_data(as_text=True)
    assert "已中断" in page
    assert "重新导入该文件" in page
    assert "已中断" in supervisor.get("/console/imports").get_data(as_text=True)
    token = csrf(supervisor, f"/console/imports/{dead_id}")
    again = finished(console_app, supervisor.post(f"/console/imports/{dead_id}/rerun", data={"csrf_token": token}))
    old, new = job_row(engine, dead_id), job_row(engine, again)
    assert old.status == "failed"
    assert f"#{again}" in (old.error or "")
    assert (new.status, new.rerun_of, new.summary["imported"]) == ("done", dead_id, 1)  # type: ignore[index]


def test_a_file_broken_half_way_fails_the_job_with_what_is_committed(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, tmp_path: Path) -> None:
    ctx = console_app.extensions["huifang.console"]
    console_app.extensions["huifang.imports"] = jobs.ImportRunner(ctx.settings, ctx.calendar, ctx.clock,
                                                                  ctx.sessions, chunk_rows=2)
    path = write_csv(tmp_path / "p.csv", [policy_row(policy_no=f"B{n}", applicant_phone=f"1390000100{n}")
                                           for n in range(3)])
    data = path.read_bytes() + b'"' + b"x" * 200_000 + b'"\n'  # a field over the csv module's limit, row 5
    job = job_row(engine, finished(console_app, upload(supervisor, data)))
    assert job.status == "failed"
    assert "the import stopped after row 3" in (job.error or "")
    assert job.summary is not None
    assert job.summary["imported"] == 2
    page = supervisor.get(f"/console/imports/{job.id}").get_data(as_text=True)
    assert "失败" in page
    assert "重新导入该文件" in page


def test_the_rejected_rows_download_as_xlsx_and_are_audited(
        console_app: Flask, supervisor: FlaskClient, engine: Engine) -> None:
    job_id = finished(console_app, upload(supervisor, SAMPLE.read_bytes()))
    reply = supervisor.get(f"/console/imports/{job_id}/rejected.xlsx")
    assert reply.status_code == 200
    assert reply.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(reply.data), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    labels = {c.name: c.label_zh for c in COLUMNS}
    rejected = job_row(engine, job_id).summary["rejected"]  # type: ignore[index]
    assert rows[0] == ("行号", "列名", "中文表头", "错误说明", "英文说明")
    assert rows[1:] == [(r["row"], r["column"], labels[r["column"]], r["error_zh"], r["error"]) for r in rejected]
    assert (rows[3][0], rows[3][3]) == (50, "产品类型「储蓄型」不是可识别的取值（可填：传统、分红、万能、投连、健康）")
    with Session(engine) as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "import_rejects")).one()
        assert line.operator == "张总"
        assert "6 rows" in line.detail


def test_uploads_that_cannot_be_imported_are_refused_beside_the_field(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, settings: Settings) -> None:
    token = csrf(supervisor, "/console/imports")
    nothing = supervisor.post("/console/imports", data={"csrf_token": token}, content_type="multipart/form-data")
    assert nothing.status_code == 422
    assert "请选择要导入的保单文件" in nothing.get_data(as_text=True)
    pdf = upload(supervisor, b"%PDF-1.4", "清单.pdf")
    assert pdf.status_code == 422
    assert "不支持的文件类型“.pdf”" in pdf.get_data(as_text=True)
    header = ",".join(c.label_zh for c in COLUMNS).encode("big5", errors="replace")
    big5 = upload(supervisor, header + b"\n")
    text = big5.get_data(as_text=True)
    assert big5.status_code == 422
    assert "文件无法读取" in text
    assert "not in a supported encoding" in text
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ImportJob)) == 0
    assert list(Path(settings.console.upload_dir).iterdir()) == []  # refused uploads are not kept


def test_the_same_file_again_asks_for_confirmation(console_app: Flask, supervisor: FlaskClient,
                                                   engine: Engine) -> None:
    first = finished(console_app, upload(supervisor, SAMPLE.read_bytes()))
    refused = upload(supervisor, SAMPLE.read_bytes(), "again.csv")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f"导入任务 #{first}" in text
    assert 'name="confirm_same"' in text
    again = job_row(engine, finished(console_app, upload(supervisor, SAMPLE.read_bytes(), confirm_same="1")))
    assert again.summary is not None
    assert (again.summary["imported"], again.summary["unchanged"], again.summary["tasks_created"]) == (0, 46, 0)


def test_the_upload_needs_its_pages_csrf_token(console_app: Flask, supervisor: FlaskClient, engine: Engine) -> None:
    reply = supervisor.post("/console/imports", data={"file": (io.BytesIO(SAMPLE.read_bytes()), "p.csv")},
                            content_type="multipart/form-data")
    assert reply.status_code == 400
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_only_the_upload_takes_a_body_over_web_max_content_length(
        console_app: Flask, supervisor: FlaskClient, engine: Engine, settings: Settings) -> None:
    console_app.config["MAX_CONTENT_LENGTH"] = 4096  # web.max_content_length, as huifang.serving.http sets it
    big = SAMPLE.read_bytes() + b"\n" * 20_000  # blank lines: skipped by the intake
    assert finished(console_app, upload(supervisor, big))  # over 4 KiB, under upload_max_mb
    form = {"csrf_token": csrf(supervisor, "/console/cases"), "to": "王芳", "back": "", "padding": "x" * 8192}
    assert supervisor.post("/console/cases/assign", data=form).status_code == 413
    ctx = console_app.extensions["huifang.console"]
    console_app.extensions["huifang.console"] = replace(
        ctx, settings=replace(settings, console=replace(settings.console, upload_max_mb=1)))
    too_big = upload(supervisor, big + b"\n" * (1024 * 1024))
    assert too_big.status_code == 413
    assert "不能超过 1 MB" in too_big.get_data(as_text=True)


def test_held_tasks_are_listed_with_their_reason_and_verification_case(
        console_app: Flask, supervisor: FlaskClient, console: FlaskClient) -> None:
    finished(console_app, upload(supervisor, SAMPLE.read_bytes()))
    page = supervisor.get("/console/imports/held").get_data(as_text=True)
    links = re.findall(r'href="/console/cases/(\d+)">核实件 #\1</a>', page)
    assert len(links) == 7  # 1 agent phone + 3 shared + 3 wrong numbers (the CLI's held count)
    assert page.count("重复号码") >= 4
    assert page.count("电话有误") >= 3
    assert "请通过保全变更更正号码" in page
    case = supervisor.get(f"/console/cases/{links[0]}")
    assert case.status_code == 200
    assert "核实件" in case.get_data(as_text=True)


def test_rejected_rows_are_shown_in_chinese_with_the_english_beside(
        console_app: Flask, supervisor: FlaskClient, engine: Engine) -> None:
    job_id = finished(console_app, upload(supervisor, SAMPLE.read_bytes()))
    page = supervisor.get(f"/console/imports/{job_id}").get_data(as_text=True)
    assert "产品类型「储蓄型」不是可识别的取值（可填：传统、分红、万能、投连、健康）" in page
    assert escape("product_type (产品类型): '储蓄型' is not a known product type") in page  # the English under it
    with Session(engine) as s:  # a job imported before the messages had a Chinese twin: its English in both places
        job = s.get(ImportJob, job_id)
        assert job is not None
        assert job.summary is not None
        rejected = job.summary["rejected"]
        job.summary = {**job.summary, "rejected": [{k: v for k, v in r.items() if k != "error_zh"} for r in rejected]}
        s.commit()
    old = supervisor.get(f"/console/imports/{job_id}").get_data(as_text=True)
    assert f'<td class="detail">{escape(rejected[2]["error"])}</td>' in old
    book = load_workbook(io.BytesIO(supervisor.get(f"/console/imports/{job_id}/rejected.xlsx").data), read_only=True)
    assert [r[3] for r in list(book.worksheets[0].iter_rows(values_only=True))[1:]] == [r["error"] for r in rejected]
