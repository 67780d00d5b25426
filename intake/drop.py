"""The drop folder: policy files that land in a directory (an SFTP landing folder) imported as `huifang import`
imports them (intake.service.PolicyIntake: one implementation), then moved out of the way.

- Complete files only: dotfiles, `*.part` and `*.tmp` are never touched, nor anything but a regular file, and a
  file is imported only when a look finds it with the size and mtime the previous look saw (an upload still
  being written changes one of them).
- Claimed by an atomic rename into `DIR/processing/` (the name stamped with the claim's time): of two watchers
  that find the same file, exactly one rename succeeds; the other finds it gone and says nothing of it. The
  imports themselves take turns (`IMPORT_LOCK`).
- Never the same content twice: the SHA-256 of the claimed bytes is UNIQUE in `dropped_files`. A file whose
  bytes were imported before (or are being imported by another watcher right now) goes to `done/` with
  `NAME.duplicate.txt` beside it, and nothing is imported.
- Where a file ends (intake.drop_files): `done/` when the import ran to its end, with `NAME.errors.csv` beside
  it when rows were rejected (as `huifang import` exits 0 then); `failed/` with `NAME.errors.csv` when nothing
  could be imported: the file cannot be read, every row was rejected, or the import stopped part-way (the
  report says what is committed; drop the file again to finish, as for `huifang import`).
- A watcher that dies leaves its file in `processing/` and its row `importing`, whose heartbeat (moved after
  every committed chunk) stops; after `stale_minutes` the next look claims the file again and finishes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake.drop_files import DONE, FAILED, PROCESSING, file_report, move_out, rejected_report
from intake.reader import IntakeFileError, open_table
from intake.service import ImportInterrupted, ImportSummary, PolicyIntake
from kit.actor import Actor, watch_actor
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from storage.db import unit_of_work, units_of_work
from storage.locks import hold
from storage.models import AuditEvent, DroppedFile

log = logging.getLogger(__name__)
IMPORTING, IMPORTED, FAILED_STATUS = "importing", "imported", "failed"
IGNORED_SUFFIXES = (".part", ".tmp")
CLAIM_STAMP = "%Y%m%dT%H%M%SZ"  # processing/<stamp>-<token>--<name>
# Two imports at once may both insert a new branch or agent (PostgreSQL: one fails on the unique code), so the
# watchers import one file at a time (they still claim, hash and move files side by side).
IMPORT_LOCK = "drop:import"


@dataclass
class WatchResult:
    """What one look (or `once`) did. The contract of `huifang watch --json` (docs/cli.md)."""

    imported_files: list[dict[str, Any]] = field(default_factory=list)
    failed_files: list[dict[str, Any]] = field(default_factory=list)
    duplicate_files: list[dict[str, Any]] = field(default_factory=list)
    waiting_files: list[str] = field(default_factory=list)  # seen, not yet complete: left where they are

    def add(self, other: WatchResult) -> None:
        self.imported_files += other.imported_files
        self.failed_files += other.failed_files
        self.duplicate_files += other.duplicate_files
        self.waiting_files = other.waiting_files  # the latest look's

    @property
    def handled(self) -> int:
        return len(self.imported_files) + len(self.failed_files) + len(self.duplicate_files)

    def as_dict(self) -> dict[str, Any]:
        return {"imported_files": self.imported_files, "failed_files": self.failed_files,
                "duplicate_files": self.duplicate_files, "waiting_files": self.waiting_files}


@dataclass(frozen=True)
class _Claim:
    path: Path  # under processing/
    name: str  # as it landed


@dataclass(frozen=True)
class _Owned:
    row_id: int


@dataclass(frozen=True)
class _Duplicate:
    first_file: str
    status: str  # imported | importing (another watcher is importing these bytes now)
    started_at: datetime


class Watcher:
    """Watches one folder. Keep one per process and folder: what the previous look saw is its memory."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session], *, settings: Settings,
                 calendar: BusinessCalendar, clock: Clock, actor: Actor | None = None,
                 sleep: Callable[[float], None] = time.sleep, chunk_rows: int | None = None,
                 watcher_id: str | None = None) -> None:
        self.folder = folder.resolve()
        if not self.folder.is_dir():
            raise IntakeFileError(f"{folder}: no such folder")
        self.sessions, self.settings, self.calendar, self.clock = sessions, settings, calendar, clock
        self.actor = actor or watch_actor(str(self.folder))
        self.sleep, self.chunk_rows = sleep, chunk_rows
        self.watcher_id = (watcher_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[-64:]
        self._previous: dict[str, tuple[int, int]] = {}

    # -- looking ---------------------------------------------------------------------------------------

    def once(self) -> WatchResult:
        """For cron and scripts: look, and when a file is new or changed, look again `settle_seconds` later."""
        result = self.tick()
        if result.waiting_files:
            self.sleep(self.settings.drop.settle_seconds)
            result.add(self.tick())
        return result

    def watch(self, emit: Callable[[WatchResult], None], stop: Callable[[], bool] = lambda: False) -> None:
        """Look every `interval_seconds` until `stop()` says so; `emit` gets each look that handled a file."""
        while True:
            try:
                result = self.tick()
            except Exception:  # the database restarting must not end the watch: the next look tries again
                log.exception("drop: the look at %s failed", self.folder)
                result = WatchResult()
            if result.handled:
                emit(result)
            if stop():
                return
            self.sleep(self.settings.drop.interval_seconds)

    def tick(self) -> WatchResult:
        """One look: take over the stale claims, then import every file found as the previous look saw it."""
        result = WatchResult()
        for claim in self._stale_claims():
            self._guarded(claim, result)
        complete, result.waiting_files = self.look()
        for name in complete:
            claimed = self._claim(self.folder / name, name)
            if claimed is not None:
                self._guarded(claimed, result)
        return result

    def _guarded(self, claim: _Claim, result: WatchResult) -> None:
        """Handle a claimed file; on an unexpected failure (the database away, a bug) give it back to the folder
        for a later look (or, when its name was taken meanwhile, leave it to the stale-claim check)."""
        try:
            self._handle(claim, result)
        except Exception:
            back = self.folder / claim.name
            if claim.path.exists() and not back.exists():
                os.rename(claim.path, back)
            raise

    def look(self) -> tuple[list[str], list[str]]:
        """(complete, waiting): the candidate files as this look and the previous one saw them."""
        seen: dict[str, tuple[int, int]] = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                except OSError:  # gone meanwhile
                    continue
                seen[name] = (stat.st_size, stat.st_mtime_ns)
        complete = sorted(n for n, s in seen.items() if self._previous.get(n) == s)
        self._previous = seen
        return complete, sorted(n for n in seen if n not in complete)

    def _claim(self, path: Path, name: str) -> _Claim | None:
        processing = self.folder / PROCESSING
        processing.mkdir(exist_ok=True)
        stamp = self.clock.now().astimezone(UTC).strftime(CLAIM_STAMP)
        target = processing / f"{stamp}-{secrets.token_hex(4)}--{name}"
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None  # another watcher claimed it first
        return _Claim(target, name)

    def _stale_claims(self) -> list[_Claim]:
        """Files in processing/ claimed longer than `stale_minutes` ago whose import has stopped (no row, or a row
        whose heartbeat is as old): claimed again, so that one watcher finishes each."""
        processing = self.folder / PROCESSING
        if not processing.is_dir():
            return []
        limit = self.clock.now() - timedelta(minutes=self.settings.drop.stale_minutes)
        claims = []
        for path in sorted(processing.iterdir()):
            stamp, _, rest = path.name.partition("-")
            _, _, name = rest.partition("--")
            try:
                claimed_at = datetime.strptime(stamp, CLAIM_STAMP).replace(tzinfo=UTC)
            except ValueError:
                continue  # not one of ours
            if not name or claimed_at > limit or self._alive(path, limit):
                continue
            claim = self._claim(path, name)
            if claim is not None:
                claims.append(claim)
        return claims

    def _alive(self, path: Path, limit: datetime) -> bool:
        try:
            sha256, _ = _digest(path)
        except OSError:
            return True  # gone (finished meanwhile) or unreadable: the next look tells
        with unit_of_work(self.sessions) as db:
            row = db.scalars(select(DroppedFile).where(DroppedFile.sha256 == sha256)).one_or_none()
            return row is not None and row.status == IMPORTING and row.heartbeat_at > limit

    # -- one file --------------------------------------------------------------------------------------

    def _handle(self, claim: _Claim, result: WatchResult) -> None:
        try:
            sha256, size = _digest(claim.path)
        except OSError as exc:
            result.failed_files.append(self._failed(claim, None, None, f"cannot read the file: {exc.strerror or exc}"))
            return
        owner = self._register(claim, sha256, size)
        if isinstance(owner, _Duplicate):
            moved = move_out(claim.path, self.folder / DONE, claim.name)
            marker = moved.with_name(moved.name + ".duplicate.txt")
            marker.write_text(f"与 {owner.first_file}（{owner.started_at.isoformat(timespec='seconds')} 收到）内容相同"
                              f"（SHA-256 {sha256}），未重复导入。\nSame content as {owner.first_file}: not "
                              f"imported again.\n", encoding="utf-8")
            result.duplicate_files.append({"file": claim.name, "sha256": sha256, "moved_to": self._rel(moved),
                                           "duplicate_of": owner.first_file, "duplicate_of_status": owner.status})
            return
        summary: ImportSummary | None = None
        try:
            table = open_table(claim.path)
            with hold(self.sessions.kw["bind"], IMPORT_LOCK):
                summary = PolicyIntake(units_of_work(self.sessions), settings=self.settings, calendar=self.calendar,
                                       clock=self.clock, chunk_rows=self.chunk_rows,
                                       after_chunk=self._beat(owner.row_id),
                                       before_phone_rules=self._beat(owner.row_id)).run(table)
        except IntakeFileError as exc:
            reason = str(exc).replace(str(claim.path), claim.name)
            result.failed_files.append(self._failed(claim, sha256, owner.row_id, reason))
            return
        except ImportInterrupted as exc:
            result.failed_files.append(self._failed(claim, sha256, owner.row_id, str(exc), exc.summary))
            return
        except OSError as exc:
            reason = f"cannot read the file: {exc.strerror or exc}"
            result.failed_files.append(self._failed(claim, sha256, owner.row_id, reason))
            return
        if summary.rows and summary.rejected_rows == summary.rows:
            reason = f"every row was rejected ({summary.rows}); nothing is imported"
            result.failed_files.append(self._failed(claim, sha256, owner.row_id, reason, summary))
            return
        moved = move_out(claim.path, self.folder / DONE, claim.name)
        report = rejected_report(moved, summary.rejected) if summary.rejected else None
        entry = {"file": claim.name, "sha256": sha256, "moved_to": self._rel(moved),
                 "report": self._rel(report) if report else None, **_counts(summary)}
        self._finish(owner.row_id, IMPORTED, entry["moved_to"], summary, None, claim.name, sha256)
        result.imported_files.append(entry)

    def _failed(self, claim: _Claim, sha256: str | None, row_id: int | None, reason: str,
                summary: ImportSummary | None = None) -> dict[str, Any]:
        moved = move_out(claim.path, self.folder / FAILED, claim.name)
        report = rejected_report(moved, summary.rejected, reason) if summary else file_report(moved, reason)
        entry = {"file": claim.name, "sha256": sha256, "moved_to": self._rel(moved), "report": self._rel(report),
                 "reason": reason, **(_counts(summary) if summary else {})}
        if row_id is not None:
            self._finish(row_id, FAILED_STATUS, entry["moved_to"], summary, reason, claim.name, sha256)
        log.warning("drop: %s failed: %s", claim.name, reason)
        return entry

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    # -- the row ---------------------------------------------------------------------------------------

    def _register(self, claim: _Claim, sha256: str, size: int) -> _Owned | _Duplicate:
        """Own these bytes' row (new; failed before; ours; or importing with a stale heartbeat), or a duplicate."""
        now = self.clock.now()
        for _ in range(3):  # an insert that loses the race to another watcher's reads the winner's row
            with unit_of_work(self.sessions) as db:
                row = db.scalars(select(DroppedFile).where(DroppedFile.sha256 == sha256)).one_or_none()
                if row is None:
                    row = DroppedFile(sha256=sha256, file_name=claim.name[:255], folder=str(self.folder)[:1024],
                                      size_bytes=size, status=IMPORTING, imported_by=self.actor.user,
                                      claimed_by=self.watcher_id, attempts=1, started_at=now, heartbeat_at=now)
                    db.add(row)
                    try:
                        db.commit()
                    except IntegrityError:
                        continue
                    return _Owned(row.id)
                stale = now - timedelta(minutes=self.settings.drop.stale_minutes)
                mine = row.status == IMPORTING and (row.claimed_by == self.watcher_id or row.heartbeat_at < stale)
                if row.status != FAILED_STATUS and not mine:
                    return _Duplicate(row.file_name, row.status, row.started_at)
                taken = db.execute(  # compare-and-set on what was read: of two watchers, one takes it over
                    update(DroppedFile).where(DroppedFile.id == row.id, DroppedFile.status == row.status,
                                              DroppedFile.claimed_by == row.claimed_by,
                                              DroppedFile.heartbeat_at == row.heartbeat_at)
                    .values(status=IMPORTING, claimed_by=self.watcher_id, attempts=row.attempts + 1,
                            file_name=claim.name[:255], heartbeat_at=now, started_at=now, finished_at=None,
                            error=None).execution_options(synchronize_session=False))
                db.commit()
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return _Owned(row.id)
        raise RuntimeError(f"{claim.name}: could not register sha256 {sha256}")

    def _beat(self, row_id: int) -> Callable[[ImportSummary], None]:
        def beat(summary: ImportSummary) -> None:
            with unit_of_work(self.sessions) as db:
                db.execute(update(DroppedFile).where(DroppedFile.id == row_id,
                                                     DroppedFile.claimed_by == self.watcher_id)
                           .values(heartbeat_at=self.clock.now()))
                db.commit()

        return beat

    def _finish(self, row_id: int, status: str, moved_to: str, summary: ImportSummary | None, error: str | None,
                name: str, sha256: str | None) -> None:
        now = self.clock.now()
        with unit_of_work(self.sessions) as db:
            db.execute(update(DroppedFile).where(DroppedFile.id == row_id).values(
                status=status, finished_at=now, heartbeat_at=now, moved_to=moved_to[:1024], error=error,
                summary=summary.as_dict() if summary else None))
            if summary is not None:
                db.add(AuditEvent(at=now, operator=self.actor.user, action="policy_import",
                                  target=f"drop {row_id}: {name}"[:255], reason="",
                                  detail=f"{status}; sha256 {sha256}; {summary.rows} rows, {summary.imported} new, "
                                         f"{summary.updated} updated, {summary.rejected_rows} rejected"))
            db.commit()


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _counts(summary: ImportSummary) -> dict[str, Any]:
    data = summary.as_dict()
    del data["rejected"]
    return data
