"""The recordings store: files on a local filesystem, written once, each with its SHA-256.

Designed for another backend (an S3-compatible bucket) behind the same two methods. Recordings are personal
data: files are 0440 (read-only, the service and its group) in folders 0750, whatever the umask; exports and
copies made for a person are 0600 (`write_private`).

A file is written to a scratch file beside it, flushed to disk, then linked into place: a write that fails (the
disk full, the filesystem turned read-only) never leaves a partial recording at its path, and its scratch file
is removed — or, when the filesystem refuses even that, removed by the next write of the same recording.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from kit.clock import BUSINESS_TZ

FILE_MODE = 0o440  # a stored recording: read-only, for the service and its group
DIR_MODE = 0o750
PRIVATE_MODE = 0o600  # an export or a copy made for one person
log = logging.getLogger(__name__)
# a scratch file this old is no writer's any more (writing one takes seconds; the next try of a failed write
# comes recordings.retry_after_minutes later)
STALE_SCRATCH_S = 300.0


class AlreadyStored(FileExistsError):
    """A different file already sits at that path: stored recordings are never overwritten."""


@dataclass(frozen=True)
class Stored:
    path: str  # relative to the store's root, POSIX separators
    sha256: str
    size_bytes: int


class RecordingStore(Protocol):
    def put(self, relative: str, data: bytes) -> Stored: ...

    def read(self, relative: str) -> bytes: ...

    def exists(self, relative: str) -> bool: ...

    def local_path(self, relative: str) -> Path:
        """A local file holding the recording, to stream it with range requests (the console's player)."""
        ...

    def remove(self, relative: str) -> None:
        """Only for purging a recording past its retention date (recordings.compliance.purge)."""


def recording_path(started: datetime, branch_code: str, policy_no: str, recording_sid: str,
                   extension: str = "wav") -> str:
    """YYYY/MM/DD/BRANCH/POLICY_NO/RECORDING_SID.wav, the date in business time."""
    day = started.astimezone(BUSINESS_TZ)
    return str(PurePosixPath(f"{day:%Y/%m/%d}", _safe(branch_code), _safe(policy_no), f"{recording_sid}.{extension}"))


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _full(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"recording path {relative!r} leaves the store")
        return path

    def put(self, relative: str, data: bytes) -> Stored:
        """Write `data` once. The same bytes again are a no-op (a retried callback); other bytes are refused."""
        digest = hashlib.sha256(data).hexdigest()
        target = self._full(relative)
        if target.exists():
            self._clear_scratch(target)
            if hashlib.sha256(target.read_bytes()).hexdigest() == digest:
                return Stored(relative, digest, len(data))
            raise AlreadyStored(f"{relative}: a different recording is already stored there")
        private_folders(target.parent, self.root)
        self._clear_scratch(target)
        handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.link(scratch, target)  # fails if another writer got there first: never overwrite
        except FileExistsError:
            # another writer of the same recording got there first (a downloader whose lease ran out and the
            # one that took it over): the same bytes are the same recording, anything else is refused
            if hashlib.sha256(target.read_bytes()).hexdigest() == digest:
                return Stored(relative, digest, len(data))
            raise AlreadyStored(f"{relative}: a different recording was stored there meanwhile") from None
        finally:
            try:
                Path(scratch).unlink(missing_ok=True)
            except OSError as exc:  # read-only now: the write's own error stands; the next write removes it
                log.warning("recording scratch file %s not removed (%s): removed by the next write", scratch, exc)
        target.chmod(FILE_MODE)
        return Stored(relative, digest, len(data))

    @staticmethod
    def _clear_scratch(target: Path) -> None:
        """Remove the scratch files an earlier failed write of this recording could not remove."""
        for scratch in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
            try:
                if time.time() - scratch.stat().st_mtime > STALE_SCRATCH_S:
                    scratch.unlink()
                    log.info("removed %s, left by a failed write of %s", scratch.name, target.name)
            except OSError:
                pass  # gone meanwhile, or the filesystem still refuses: the next write tries again

    def read(self, relative: str) -> bytes:
        return self._full(relative).read_bytes()

    def exists(self, relative: str) -> bool:
        return self._full(relative).is_file()

    def local_path(self, relative: str) -> Path:
        return self._full(relative)

    def remove(self, relative: str) -> None:
        target = self._full(relative)
        target.unlink(missing_ok=True)


def private_folders(folder: Path, root: Path) -> None:
    """Create `folder` and the missing folders between it and `root` (root included) with DIR_MODE."""
    missing = [p for p in (folder, *folder.parents) if not p.exists() and (p == root or root in p.parents)]
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        path.chmod(DIR_MODE)  # mkdir's mode passes through the umask
    folder.mkdir(parents=True, exist_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read (an export bundle, a recording copied out), replacing one that
    is there, whatever the umask and whatever mode the old file had."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(handle, "wb") as out:
        os.fchmod(out.fileno(), PRIVATE_MODE)
        out.write(data)
