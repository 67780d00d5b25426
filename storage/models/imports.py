"""Policy files uploaded in the console and imported in the background (console.imports): one row per run,
with its progress while it runs and its summary when it ends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin, TimestampMixin


class ImportJob(IdMixin, TimestampMixin, Base):
    """An import of one uploaded file. `status`: queued → running → done | failed. A run whose process died
    stays `running` with a heartbeat that stops moving: readers call it stale (console.imports.jobs)."""

    __tablename__ = "import_jobs"

    file_name: Mapped[str] = mapped_column(String(255))  # as the user's browser named it
    stored_path: Mapped[str] = mapped_column(String(1024))  # the upload under console.upload_dir
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int]
    uploaded_by: Mapped[str] = mapped_column(String(64))  # the console user
    status: Mapped[str] = mapped_column(String(16), index=True)
    rows_total: Mapped[int | None]  # the file's estimated data rows (intake.reader.count_rows), for the bar
    rows_read: Mapped[int] = mapped_column(default=0)  # rows committed so far
    phase: Mapped[str] = mapped_column(String(16), default="rows")  # rows | phones (the phone rules, last)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # moved after every committed chunk
    finished_at: Mapped[datetime | None]
    runner: Mapped[str | None] = mapped_column(String(64))  # host:pid of the process running it
    rerun_of: Mapped[int | None]  # the job whose stored file this run imports again
    # the summary: intake.service.ImportSummary.as_dict() (counts, rejected rows, ignored columns)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # why it failed (the file, or the interruption)
