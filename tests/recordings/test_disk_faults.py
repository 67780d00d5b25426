"""Fault: the recordings disk full, then read-only (both databases, the virtual clock).

A real ENOSPC and a real EROFS: the store's root is a small tmpfs that the test mounts (it runs as root),
fills up, remounts read-only — once while nothing is written, once between a scratch file being written and
its link into place — and then read-write again. The recording stays pending with the reason, its claim given
back; `huifang recordings fetch` and `find` report it pending; the retry job tries it at its next try and
stores it once the disk takes it. Nothing lost (the row, then the audio), nothing doubled or left half written
(one row, one file, no scratch files).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import Engine, select

from huifang.cli import cli
from kit.clock import isoformat_local
from recordings.downloader import Downloader
from recordings.store import STALE_SCRATCH_S
from speech.cache import PromptCache
from storage.models import Recording
from tests.ivr.conftest import ACCOUNT, Ivr, answer_wav, build_ivr

RE = "RE" + "e" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}"


class Disk:
    """A tmpfs of `size` mounted at `path` for this test."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True)
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs for a real full / read-only disk needs root")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (no CAP_SYS_ADMIN in this container?): {done.stderr.strip()}")

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True)

    def fill(self) -> Path:
        """Write a file until the disk says ENOSPC; returns it."""
        filler = self.path / "filler"
        with filler.open("wb", buffering=0) as out:
            refused = _write_until_refused(out)
        assert refused.errno == errno.ENOSPC
        return filler

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)


def _write_until_refused(out: BinaryIO) -> OSError:
    while True:
        try:
            out.write(b"\0" * 4096)
        except OSError as exc:
            return exc


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    mounted = Disk(tmp_path / "recordings", "256k")  # the IVR's recordings root (tests.ivr.conftest.build_ivr)
    try:
        yield mounted
    finally:
        mounted.unmount()


@pytest.fixture
def ivr(disk: Disk, engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    built = build_ivr(engine, tmp_path, prompt_cache)
    assert built.svc.settings.recordings.root == str(disk.path)
    with built.http:
        built.answer_call()
        yield built


def _recording(ivr: Ivr) -> Recording:
    with ivr.session() as s:
        return s.scalars(select(Recording)).one()


def _cli(ivr: Ivr, db_url: str, *args: str) -> object:
    """`huifang …` as the operator runs it, at the virtual clock's time, Twilio's media mocked."""
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": isoformat_local(ivr.clock.now()),
           "HUIFANG_OPERATOR": "ops", "HUIFANG__RECORDINGS__ROOT": json.dumps(ivr.svc.settings.recordings.root)}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_full_then_read_only_disk_keeps_the_recording_pending_until_it_can_be_stored(
        ivr: Ivr, disk: Disk, db_url: str, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ivr.svc.settings.recordings
    retry = timedelta(minutes=settings.retry_after_minutes)
    audio = answer_wav(4.0)  # 64 kB: more than a full disk takes
    ivr.http.add(responses.GET, URL + ".wav", body=audio, content_type="audio/x-wav")
    job = Downloader(sessions=ivr.svc.sessions, media=ivr.svc.media, files=ivr.svc.files, clock=ivr.clock,
                     settings=settings, holder="job")
    caplog.set_level(logging.INFO, logger="recordings")

    # 1. the disk is full: the callback downloads the audio, the store cannot write it (ENOSPC)
    filler = disk.fill()
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": RE, "RecordingUrl": URL,
            "RecordingStatus": "completed", "RecordingDuration": "4", "RecordingChannels": "2"}
    assert ivr.post("/twilio/recording", form).status_code == 200
    full = _recording(ivr)
    assert (full.status, full.path, full.claimed_by, full.claim_expires_at) == ("pending", None, None, None)
    assert full.last_error is not None
    assert "No space left on device" in full.last_error
    assert full.next_try_at == ivr.clock.now() + retry
    assert disk.files() == ["filler"]  # nothing half written, no scratch file
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and RE in r.getMessage()]
    assert len(errors) == 1
    assert "No space left on device" in errors[0].getMessage()

    # what the operator sees: pending, with the reason and the next try; the retry job leaves it until then
    [found] = _cli(ivr, db_url, "recordings", "find")  # type: ignore[misc]
    assert (found["status"], found["next_try_at"]) == ("pending", isoformat_local(ivr.clock.now() + retry))
    assert "No space left on device" in found["last_error"]
    assert _cli(ivr, db_url, "recordings", "fetch") == {"stored": 0, "pending": 0}  # not due yet

    # 2. space freed, but the filesystem turned read-only (EROFS): the next try fails the same way
    filler.unlink()
    disk.remount("ro")
    ivr.clock.advance(retry)
    assert _cli(ivr, db_url, "recordings", "fetch") == {"stored": 0, "pending": 1}
    read_only = _recording(ivr)
    assert read_only.status == "pending"
    assert read_only.last_error is not None
    assert "Read-only file system" in read_only.last_error
    assert read_only.claimed_by is None
    assert disk.files() == []

    # 3. read-write again, then read-only just after the audio was written to its scratch file, before it
    # was linked into place (a disk error remounting it read-only): the scratch file cannot be removed now
    disk.remount("rw")
    ivr.clock.advance(retry)
    real_link = os.link

    def link_after_a_remount(src: str, dst: str) -> None:
        disk.remount("ro")
        real_link(src, dst)

    monkeypatch.setattr("recordings.store.os.link", link_after_a_remount)
    assert job.fetch_due() == {"stored": 0, "pending": 1}
    monkeypatch.setattr("recordings.store.os.link", real_link)
    broken = _recording(ivr)
    assert broken.status == "pending"
    assert broken.last_error is not None
    assert "Read-only file system" in broken.last_error  # the write's own error, not the clean-up's
    [scratch] = disk.files()  # a whole copy of the audio, hidden beside the recording's path, never at it
    assert Path(scratch).name.startswith(".")
    assert (disk.path / scratch).read_bytes() == audio

    # 4. read-write again: the next try stores it, once, and removes the scratch file left behind
    disk.remount("rw")
    ivr.clock.advance(retry)
    os.utime(disk.path / scratch, (os.stat(disk.path / scratch).st_atime,
                                   os.stat(disk.path / scratch).st_mtime - STALE_SCRATCH_S - 1))  # as old as the try
    assert _cli(ivr, db_url, "recordings", "fetch") == {"stored": 1, "pending": 0}
    stored = _recording(ivr)
    assert (stored.status, stored.last_error, stored.next_try_at, stored.claimed_by) == ("stored", None, None, None)
    assert stored.path is not None
    assert disk.files() == [stored.path]
    assert (disk.path / stored.path).read_bytes() == audio
    [shown] = _cli(ivr, db_url, "recordings", "find")  # type: ignore[misc]
    assert (shown["status"], shown["path"], shown["last_error"]) == ("stored", stored.path, None)
    assert _cli(ivr, db_url, "recordings", "fetch") == {"stored": 0, "pending": 0}
    with ivr.session() as s:
        assert s.query(Recording).count() == 1
