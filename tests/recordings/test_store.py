"""The write-once filesystem store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recordings.store import AlreadyStored, FileStore, Stored, recording_path


def test_put_writes_once_with_the_checksum(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put("2026/11/25/P1/RE1.wav", b"audio")
    assert stored.sha256 == hashlib.sha256(b"audio").hexdigest()
    assert stored.size_bytes == 5
    assert store.read(stored.path) == b"audio"
    assert not (tmp_path / stored.path).stat().st_mode & 0o222  # read-only on disk
    assert store.put(stored.path, b"audio") == stored  # the same bytes again: a retried callback
    with pytest.raises(AlreadyStored, match="a different recording is already stored there"):
        store.put(stored.path, b"other audio")
    assert store.read(stored.path) == b"audio"
    assert [p.name for p in (tmp_path / "2026/11/25/P1").iterdir()] == ["RE1.wav"]  # no scratch files left


def test_paths_never_leave_the_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leaves the store"):
        FileStore(tmp_path / "root").put("../escape.wav", b"x")


def test_recording_path_is_by_business_date_branch_and_policy() -> None:
    late_utc = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 01:30 on the 25th in Shanghai
    assert recording_path(late_utc, "110100", "P/2026 01", "RE9") == "2026/11/25/110100/P_2026_01/RE9.wav"



def _racing(other: bytes) -> Callable[[str, str], None]:
    """os.link as it goes when another writer's file lands at the target just before ours."""
    def link(_scratch: str, target: str) -> None:
        Path(target).write_bytes(other)
        raise FileExistsError(target)
    return link


def test_two_writers_of_the_same_recording_at_once_both_end_with_the_one_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A downloader whose lease ran out and the one that took over may write the same path at the same
    moment: the one that loses the race takes the other's file when it holds the same bytes."""
    relative = "2026/11/25/110100/P1/RE1.wav"
    monkeypatch.setattr("recordings.store.os.link", _racing(b"audio"))
    assert FileStore(tmp_path / "a").put(relative, b"audio") == Stored(relative, hashlib.sha256(b"audio").hexdigest(), 5)
    monkeypatch.setattr("recordings.store.os.link", _racing(b"other audio"))
    with pytest.raises(AlreadyStored, match="a different recording was stored there meanwhile"):
        FileStore(tmp_path / "b").put(relative, b"audio")
    assert (tmp_path / "b" / relative).read_bytes() == b"other audio"
