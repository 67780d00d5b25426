"""Policy files imported from the drop folder (intake.drop): one row per distinct content (SHA-256), so the same
bytes are never imported twice, whatever the file is called or how often it lands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin


class DroppedFile(IdMixin, Base):
    """A file's content seen in a drop folder. `status`: importing → imported | failed. A failed content may be
    dropped again and is then imported again (nothing of it was imported, or the import stopped part-way and a
    second run finishes it); an imported one never is: the next file with these bytes is a duplicate. A row left
    `importing` by a watcher that died has a heartbeat that stops: after `[drop] stale_minutes` another watcher
    takes it over."""

    __tablename__ = "dropped_files"

    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))  # as it landed in the folder (the latest attempt's)
    folder: Mapped[str] = mapped_column(String(1024))  # the drop folder, absolute
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    imported_by: Mapped[str] = mapped_column(String(64))  # the actor: watch:<folder>
    claimed_by: Mapped[str] = mapped_column(String(64))  # the watcher running (or last running) it: host:pid:token
    attempts: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]  # moved after every committed chunk while it imports
    finished_at: Mapped[datetime | None]
    moved_to: Mapped[str | None] = mapped_column(String(1024))  # done/NAME or failed/NAME, relative to the folder
    # the import's summary: intake.service.ImportSummary.as_dict() (None when the file could not be read)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # why it failed
