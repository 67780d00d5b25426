"""保单导入 (supervisors, administrators): `GET /console/imports` (the upload form and the import history),
`POST /console/imports` (upload a CSV/XLSX policy file: stored, then imported in the background by
console.imports.jobs with the intake of `huifang import`), `GET /console/imports/<id>` (its progress, polled with
htmx, then its summary and rejected rows), the rejected rows as XLSX, importing a stale job's file again, and
`GET /console/imports/held` (every task held now for its phone, with its verification case; query `reason`,
`branch`, `page`).

The upload route alone accepts a body up to `[console] upload_max_mb`; every other route keeps
`web.max_content_length`. The same file (same SHA-256) imported before is refused until the user ticks
`confirm_same` (importing twice is harmless: the rows come back unchanged, but it is usually a mistake)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.response import Response as AnyResponse
from werkzeug.wrappers import Response

from console.context import ConsoleContext, context, page_actor, unit_of_work
from console.desk import desk
from console.formatting import local_time
from console.imports import jobs
from console.imports.export import rejected_download
from console.imports.queries import counts, held_page, history, job
from intake.columns import COLUMNS
from intake.reader import IntakeFileError, open_table
from kit.actor import POLICY_IMPORTERS
from kit.vocab import HoldReason
from recordings.audit import audit
from storage.models import ImportJob

imports = desk("imports", __name__)
SHOWN_REJECTED = 200  # rejected rows listed on the page; all of them are in the XLSX
COLUMN_ZH = {c.name: c.label_zh for c in COLUMNS}
STATUS_ZH = {jobs.QUEUED: "排队中", jobs.RUNNING: "导入中", jobs.DONE: "已完成", jobs.FAILED: "失败",
             jobs.STALE: "已中断"}


def _upload_limit() -> None:
    """The upload's own body limit, set before anything reads the body (the desk's CSRF check reads the form)."""
    if request.endpoint == "imports.upload":
        request.max_content_length = context().settings.console.upload_max_mb * 1024 * 1024


imports.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


@imports.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> AnyResponse:
    limit = context().settings.console.upload_max_mb
    words = f"文件过大：保单文件不能超过 {limit} MB" if request.endpoint == "imports.upload" else "文件过大"
    return make_response(render_template("console/error.html", code=413, words=words), 413)


def runner() -> jobs.ImportRunner:
    """This process's runner of import jobs (made on first use)."""
    found = current_app.extensions.get("huifang.imports")
    if found is None:
        ctx: ConsoleContext = context()
        found = jobs.ImportRunner(ctx.settings, ctx.calendar, ctx.clock, ctx.sessions)
        current_app.extensions["huifang.imports"] = found
    return found


def _stale_after() -> timedelta:
    return timedelta(minutes=context().settings.console.import_stale_minutes)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() else 1


def _index(errors: dict[str, str] | None = None, status: int = 200, same: int | None = None) -> tuple[str, int]:
    ctx = context()
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        result = history(db, _page_number())
        now = ctx.clock.now()
        shown = {j.id: (jobs.view_status(j, now, _stale_after()), counts(j.summary)) for j in result.rows}
        html = render_template("console/imports/index.html", actor=actor, result=result, shown=shown,
                               status_zh=STATUS_ZH, errors=errors or {}, same=same, args=request.args,
                               limit_mb=ctx.settings.console.upload_max_mb,
                               messages=get_flashed_messages(with_categories=True))
    return html, status


@imports.get("/imports", endpoint="index_page")
def index_view() -> tuple[str, int]:
    return _index()


@imports.post("/imports", endpoint="upload")
def upload_route() -> Response | tuple[str, int]:
    """Store the file, check that it can be read (its header), record the job, start it, go to its page."""
    ctx = context()
    now = ctx.clock.now()
    upload = request.files.get("file")
    name = Path(upload.filename or "").name if upload is not None else ""
    refusal: str | None = None
    same: int | None = None
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        if upload is None or not name:
            refusal = "请选择要导入的保单文件（CSV 或 XLSX）"
        elif Path(name).suffix.lower() not in jobs.SUFFIXES:
            refusal = (f"不支持的文件类型“{Path(name).suffix or '无扩展名'}”：请上传 CSV（.csv、.txt）"
                       "或 Excel（.xlsx、.xlsm）文件")
        else:
            stored = jobs.store_upload(upload.stream, Path(ctx.settings.console.upload_dir), name, now)
            refusal, same = _refusal(db, stored, now, request.form.get("confirm_same") == "1")
            if refusal is not None:
                stored.path.unlink(missing_ok=True)
            else:
                new = jobs.create_job(db, stored, name, actor.user, now)
                audit(db, actor=actor, action="policy_import", target=f"import {new.id}: {name}", now=now,
                      detail=f"{stored.size} bytes, sha256 {stored.sha256}")
                db.commit()
                job_id = new.id
    if refusal is not None:  # the form again, in a transaction of its own (SQLite: one writer at a time)
        return _index({"file": refusal}, 422, same)
    runner().start(job_id)
    return redirect(url_for("imports.job_page", job_id=job_id))


def _refusal(db: Session, stored: jobs.Stored, now: datetime, confirmed: bool) -> tuple[str | None, int | None]:
    """Why this upload is not imported (in Chinese, for the file field), and the earlier job of the same file."""
    try:
        rows = open_table(stored.path).rows
        getattr(rows, "close", lambda: None)()  # the header is read; let the file go
    except IntakeFileError as exc:
        message = str(exc).replace(str(stored.path), "文件")
        return f"文件无法读取，未导入任何数据：{message}", None
    earlier = jobs.same_file(db, stored.sha256)
    if earlier is None:
        return None, None
    if jobs.view_status(earlier, now, _stale_after()) in (jobs.QUEUED, jobs.RUNNING):
        return f"同一文件正在导入中（导入任务 #{earlier.id}），请等待其完成", earlier.id
    if confirmed:
        return None, None
    return (f"该文件（SHA-256 相同）已于 {local_time(earlier.created_at)} 由 {earlier.uploaded_by} 导入"
            f"（导入任务 #{earlier.id}）。再次导入不会重复创建回访任务，已导入的保单记为“未变化”。"
            "如确需再次导入，请勾选“仍然导入”并重新选择文件。"), earlier.id


def _job_status(db: Session, job_id: int) -> tuple[ImportJob, str]:
    """The job (404 when there is none) and its status as the page shows it (a dead process's job: stale)."""
    found = job(db, job_id)
    if found is None:
        abort(404)
    return found, jobs.view_status(found, context().clock.now(), _stale_after())


@imports.get("/imports/<int:job_id>", endpoint="job_page")
def job_view(job_id: int) -> str:
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        found, status = _job_status(db, job_id)
        rejected = (found.summary or {}).get("rejected", [])
        return render_template("console/imports/job.html", actor=actor, job=found, status=status,
                               status_zh=STATUS_ZH, numbers=counts(found.summary), rejected=rejected[:SHOWN_REJECTED],
                               more=max(len(rejected) - SHOWN_REJECTED, 0), column_zh=COLUMN_ZH,
                               messages=get_flashed_messages(with_categories=True))


@imports.get("/imports/<int:job_id>/progress", endpoint="progress")
def progress_view(job_id: int) -> Response:
    """The progress bar (htmx polls it); once the job has ended, the page is reloaded to show its summary."""
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        found, status = _job_status(db, job_id)
        html = render_template("console/imports/_progress.html", actor=actor, job=found, status=status,
                               status_zh=STATUS_ZH, numbers=counts(found.summary))
    response = make_response(html)
    if status not in (jobs.QUEUED, jobs.RUNNING):
        response.headers["HX-Refresh"] = "true"
    return response


@imports.get("/imports/<int:job_id>/rejected.xlsx", endpoint="rejected_xlsx")
def rejected_view(job_id: int) -> Response:
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        found = job(db, job_id)
        if found is None:
            abort(404)
        download = rejected_download(db, actor, found, context().clock.now())
        db.commit()  # the audit line
        return download


@imports.post("/imports/<int:job_id>/rerun", endpoint="rerun")
def rerun_route(job_id: int) -> Response:
    """Import a stale or failed job's stored file again, as a new job."""
    ctx = context()
    now = ctx.clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        found = job(db, job_id)
        if found is None:
            abort(404)
        status = jobs.view_status(found, now, _stale_after())
        path = Path(found.stored_path)
        if status not in (jobs.STALE, jobs.FAILED) or not path.is_file():
            flash("该导入任务正在进行或已完成，无需重新导入" if path.is_file() else "原上传文件已不存在，请重新上传",
                  "error")
            return redirect(url_for("imports.job_page", job_id=job_id))
        stored = jobs.Stored(path, found.sha256, found.size_bytes)
        new = jobs.create_job(db, stored, found.file_name, actor.user, now, rerun_of=found.id)
        if status == jobs.STALE:
            jobs.mark_rerun(db, found, new.id, now)
        audit(db, actor=actor, action="policy_import", target=f"import {new.id}: {found.file_name}", now=now,
              detail=f"again, as import {found.id} {status}; sha256 {found.sha256}")
        db.commit()
        new_id = new.id
    runner().start(new_id)
    flash(f"已重新导入（导入任务 #{new_id}）", "done")
    return redirect(url_for("imports.job_page", job_id=new_id))


@imports.get("/imports/held", endpoint="held_page")
def held_view() -> str:
    """The held tasks, filtered by `reason` (a hold reason) and `branch` (a branch code); an unknown reason is
    named beside its field and not applied."""
    errors: dict[str, str] = {}
    reason_text = request.args.get("reason", "").strip()
    reason = HoldReason(reason_text) if reason_text in {r.value for r in HoldReason} else None
    if reason_text and reason is None:
        errors["reason"] = f"reason 参数无效：{reason_text}（应为 {'、'.join(r.value for r in HoldReason)}）"
    branch = request.args.get("branch", "").strip() or None
    with unit_of_work() as db:
        actor = page_actor(db, POLICY_IMPORTERS)
        result = held_page(db, actor, _page_number(), reason=reason, branch=branch)
        return render_template("console/imports/held.html", actor=actor, result=result, args=request.args,
                               errors=errors, reasons=list(HoldReason),
                               sees_branches=actor.branch_codes is None or bool(actor.branch_codes))
