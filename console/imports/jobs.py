"""Policy files uploaded in the console, imported in the background: the upload is stored (a private file under
`[console] upload_dir`), an `import_jobs` row records it, and a thread of the web process runs the same intake
as `huifang import` (intake.service.PolicyIntake, committing every 2,000 rows), writing its progress to the row
after every chunk, so the page can poll it and a 100,000-row file never holds a request.

A job whose process died (a restart, a killed worker) stays `running` in the table; its heartbeat (moved every
`HEARTBEAT_S` seconds by the running process) stops, and after `[console] import_stale_minutes` readers call it
stale (`view_status`): the page shows it as 中断 and offers to import the stored file again (`rerun`), which is
safe because an import run twice neither loses nor doubles anything (docs/policy-file.md)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.reader import IntakeFileError, count_rows, open_table
from intake.service import ImportInterrupted, ImportSummary, PolicyIntake
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, Clock
from kit.settings import Settings
from recordings.store import DIR_MODE, PRIVATE_MODE
from storage.db import unit_of_work, units_of_work
from storage.jobs import runner_name
from storage.models import ImportJob

log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0  # a running job's process says it is alive this often
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STALE = "stale"  # never stored: a queued or running job whose process stopped answering (view_status)


@dataclass(frozen=True)
class Stored:
    path: Path
    sha256: str
    size: int


def store_upload(stream: IO[bytes], folder: Path, file_name: str, now: datetime) -> Stored:
    """Copy the upload to `folder` (0750) as a file only the service may read (0600), hashing it on the way:
    never held in memory whole. The name is ours (time and a random part) with the upload's suffix."""
    suffix = Path(file_name).suffix.lower()
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    folder.chmod(DIR_MODE)
    target = folder / f"{now.astimezone(BUSINESS_TZ):%Y%m%d-%H%M%S}-{os.urandom(6).hex()}{suffix}"
    digest = hashlib.sha256()
    size = 0
    handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(handle, "wb") as out:
        os.fchmod(out.fileno(), PRIVATE_MODE)
        while block := stream.read(1 << 20):
            digest.update(block)
            out.write(block)
            size += len(block)
    return Stored(target, digest.hexdigest(), size)


def create_job(db: Session, stored: Stored, file_name: str, user: str, now: datetime,
               rerun_of: int | None = None) -> ImportJob:
    """The job's row, queued (flushed; the caller commits, then starts it)."""
    job = ImportJob(file_name=file_name[:255], stored_path=str(stored.path), sha256=stored.sha256,
                    size_bytes=stored.size, uploaded_by=user, status=QUEUED, rows_total=count_rows(stored.path),
                    rows_read=0, phase="rows", heartbeat_at=now, rerun_of=rerun_of, created_at=now, updated_at=now)
    db.add(job)
    db.flush()
    return job


def view_status(job: ImportJob, now: datetime, stale_after: timedelta) -> str:
    """The status a reader shows: the stored one, or `stale` for a queued or running job whose heartbeat is
    older than `stale_after` (its process is gone)."""
    if job.status in (QUEUED, RUNNING) and (job.heartbeat_at is None or now - job.heartbeat_at > stale_after):
        return STALE
    return job.status


def same_file(db: Session, sha256: str) -> ImportJob | None:
    """The latest earlier job of a file with these bytes (any status), to warn before importing it again."""
    return db.scalars(select(ImportJob).where(ImportJob.sha256 == sha256).order_by(ImportJob.id.desc())
                      .limit(1)).first()


@dataclass
class ImportRunner:
    """Runs jobs on threads of this process. `wait` is for tests and the shutdown of a dev server."""

    settings: Settings
    calendar: BusinessCalendar
    clock: Clock
    sessions: sessionmaker[Session]
    heartbeat_s: float = HEARTBEAT_S
    chunk_rows: int | None = None  # rows per committed chunk (None: the intake's 2,000)

    def __post_init__(self) -> None:
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, job_id: int) -> None:
        thread = threading.Thread(target=self.run, args=(job_id,), name=f"import-job-{job_id}", daemon=True)
        with self._lock:
            self._threads[job_id] = thread
        thread.start()

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        """True when the job's thread has ended (or none was started here)."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def run(self, job_id: int) -> None:
        """Run one job to its end; whatever happens, the row says how it ended (or, if this process dies, its
        heartbeat stops and readers call it stale)."""
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, stop), daemon=True,
                                name=f"import-job-{job_id}-heartbeat")
        try:
            path = self._begin(job_id)
            if path is None:
                return
            beat.start()
            summary = self.import_file(job_id, path)
        except ImportInterrupted as exc:
            self._end(job_id, FAILED, exc.summary, str(exc))
        except IntakeFileError as exc:
            self._end(job_id, FAILED, None, str(exc))
        except Exception as exc:  # a bug or the database: still a visible, failed job (the stale check is the net)
            log.exception("import job %s failed", job_id)
            self._end(job_id, FAILED, None, f"{type(exc).__name__}: {exc}")
        else:
            self._end(job_id, DONE, summary, None)
        finally:
            stop.set()

    def import_file(self, job_id: int, path: Path) -> ImportSummary:
        """The intake of `huifang import`, with the job's row as its progress bar."""
        table = open_table(path)
        intake = PolicyIntake(units_of_work(self.sessions), settings=self.settings, calendar=self.calendar,
                              clock=self.clock, chunk_rows=self.chunk_rows, after_chunk=self._progress(job_id, "rows"),
                              before_phone_rules=self._progress(job_id, "phones"))
        return intake.run(table)

    # -- the row -------------------------------------------------------------------------------------

    def _begin(self, job_id: int) -> Path | None:
        with unit_of_work(self.sessions) as db:
            job = db.get(ImportJob, job_id, with_for_update=True)
            if job is None or job.status != QUEUED:
                return None  # started elsewhere meanwhile
            now = self.clock.now()
            job.status, job.started_at, job.heartbeat_at, job.runner = RUNNING, now, now, runner_name()
            job.updated_at = now
            db.commit()
            return Path(job.stored_path)

    def _progress(self, job_id: int, phase: str) -> Callable[[ImportSummary], None]:
        def record(summary: ImportSummary) -> None:
            now = self.clock.now()
            with unit_of_work(self.sessions) as db:
                db.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    rows_read=summary.rows, phase=phase, heartbeat_at=now, updated_at=now,
                    summary=summary.as_dict()))
                db.commit()

        return record

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                now = self.clock.now()
                with unit_of_work(self.sessions) as db:
                    db.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == RUNNING)
                               .values(heartbeat_at=now))
                    db.commit()
            except Exception:  # the database is away: the next beat tries again; stale if it stays away
                log.warning("import job %s: heartbeat not written", job_id, exc_info=True)

    def _end(self, job_id: int, status: str, summary: ImportSummary | None, error: str | None) -> None:
        now = self.clock.now()
        values: dict[str, object] = {"status": status, "finished_at": now, "heartbeat_at": now, "updated_at": now,
                                     "error": error}
        if summary is not None:
            values |= {"summary": summary.as_dict(), "rows_read": summary.rows}
        with unit_of_work(self.sessions) as db:
            db.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
            db.commit()


def mark_rerun(db: Session, job: ImportJob, new_id: int, now: datetime) -> None:
    """The stale job is closed as failed, pointing at the run that imports its file again (flushed)."""
    job.status = FAILED
    beat = f"{job.heartbeat_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}" if job.heartbeat_at else "无"
    job.error = f"处理进程已中断（最后心跳 {beat}），已由导入任务 #{new_id} 重新导入"
    job.finished_at = job.finished_at or now
    job.updated_at = now
    db.flush()
