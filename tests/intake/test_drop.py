"""The drop folder (intake.drop) on SQLite and PostgreSQL: complete files imported through the intake and moved
to done/ or failed/ with their report, the same bytes never twice, partial files left alone, two watchers at
once, a dead watcher's claim taken over. No real sleeps: the watchers' sleep is injected."""

from __future__ import annotations

import csv
import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.drop import Watcher, WatchResult
from kit.actor import watch_actor
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.db import make_session_factory
from storage.models import AuditEvent, DroppedFile, Policy
from tests.factories import policy_row, write_csv
from tests.threads import run_together


class Sleeps:
    """The watcher's sleep: records each wait and runs what the test planned for it (an upload going on)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.plan: list[object] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.plan:
            step = self.plan.pop(0)
            if callable(step):
                step()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def watcher(drop: Path, sessions: sessionmaker[Session], settings: Settings, clock: FrozenClock,
            sleep: Sleeps | None = None, **kwargs: object) -> Watcher:
    return Watcher(drop, sessions, settings=settings, calendar=BusinessCalendar(settings.calendar), clock=clock,
                   sleep=sleep or Sleeps(), chunk_rows=2, **kwargs)  # type: ignore[arg-type]


def policies(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Policy)) or 0


def rows(engine: Engine) -> list[DroppedFile]:
    with Session(engine) as s:
        return list(s.scalars(select(DroppedFile).order_by(DroppedFile.id)))


def report_lines(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_complete_file_is_imported_once_stable_and_moved_to_done(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    write_csv(drop / "p1.csv", [policy_row(), policy_row(), policy_row()])
    sleep = Sleeps()
    result = watcher(drop, sessions, settings, clock, sleep).once()
    assert sleep.waits == [settings.drop.settle_seconds]  # looked, waited, looked again
    assert [f["file"] for f in result.imported_files] == ["p1.csv"]
    item = result.imported_files[0]
    assert (item["rows"], item["imported"], item["rejected_rows"], item["moved_to"], item["report"]) == (
        3, 3, 0, "done/p1.csv", None)
    assert result.failed_files == result.duplicate_files == result.waiting_files == []
    assert sorted(p.name for p in drop.iterdir()) == ["done", "processing"]
    assert [p.name for p in (drop / "done").iterdir()] == ["p1.csv"]
    assert list((drop / "processing").iterdir()) == []
    assert policies(engine) == 3
    [row] = rows(engine)
    assert (row.status, row.file_name, row.moved_to, row.attempts) == ("imported", "p1.csv", "done/p1.csv", 1)
    actor = watch_actor(str(drop.resolve()))  # watch:<folder> (its tail: a pytest folder is a long path)
    assert row.imported_by == actor.user
    assert row.sha256 == item["sha256"]
    assert actor.user.startswith("watch:")
    assert actor.user.endswith("/drop")
    assert len(actor.user) <= 64
    with Session(engine) as s:
        audit = s.scalars(select(AuditEvent)).one()
    assert (audit.operator, audit.action) == (actor.user, "policy_import")
    assert "3 rows, 3 new" in audit.detail


def test_an_empty_folder_is_one_look_without_waiting(
        sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    sleep = Sleeps()
    assert watcher(drop, sessions, settings, clock, sleep).once().as_dict() == {
        "imported_files": [], "failed_files": [], "duplicate_files": [], "waiting_files": []}
    assert sleep.waits == []


def test_rejected_rows_keep_the_good_ones_and_the_report_in_chinese_goes_beside_the_file(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    bad = policy_row(issue_date="13/11/2026")
    write_csv(drop / "mixed.csv", [policy_row(), bad, policy_row(premium="=1+2")])
    result = watcher(drop, sessions, settings, clock).once()
    [item] = result.imported_files
    assert (item["imported"], item["rejected_rows"], item["report"]) == (1, 2, "done/mixed.csv.errors.csv")
    lines = report_lines(drop / "done" / "mixed.csv.errors.csv")
    assert [(line["行号"], line["列名"], line["中文表头"]) for line in lines] == [
        ("3", "issue_date", "承保日期"), ("4", "premium", "保费(元)")]
    assert lines[0]["错误说明"] == "承保日期「13/11/2026」不是可识别的日期（应为 YYYY-MM-DD 格式，如 2026-11-13）"
    assert lines[0]["英文说明"] == "issue_date (承保日期): '13/11/2026' is not a date (YYYY-MM-DD)"
    assert "=1+2" in lines[1]["错误说明"]
    assert not any(v.startswith("=") for line in lines for v in line.values())  # no formula runs in Excel
    assert policies(engine) == 1
    assert rows(engine)[0].status == "imported"


def test_nothing_importable_goes_to_failed_with_the_reason(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    write_csv(drop / "all-bad.csv", [policy_row(issue_date="x"), policy_row(issue_date="y")])
    (drop / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (drop / "columns.csv").write_text("policy_no,premium\nP1,100\n", encoding="utf-8")
    result = watcher(drop, sessions, settings, clock).once()
    assert result.imported_files == []
    failed = {f["file"]: f for f in result.failed_files}
    assert sorted(failed) == ["all-bad.csv", "broken.xlsx", "columns.csv"]
    assert failed["all-bad.csv"]["reason"] == "every row was rejected (2); nothing is imported"
    assert failed["broken.xlsx"]["reason"].startswith("broken.xlsx: not a readable XLSX workbook")
    assert "missing required column(s)" in failed["columns.csv"]["reason"]
    assert sorted(p.name for p in (drop / "failed").iterdir()) == [
        "all-bad.csv", "all-bad.csv.errors.csv", "broken.xlsx", "broken.xlsx.errors.csv", "columns.csv",
        "columns.csv.errors.csv"]
    first, *problems = report_lines(drop / "failed" / "all-bad.csv.errors.csv")
    assert first["行号"] == ""
    assert first["错误说明"].startswith("文件未能导入：every row was rejected")
    assert [p["行号"] for p in problems] == ["2", "3"]
    assert "不是可识别的日期" in problems[0]["错误说明"]
    [why] = report_lines(drop / "failed" / "broken.xlsx.errors.csv")
    assert why["错误说明"].startswith("文件无法读取，未导入：broken.xlsx: not a readable XLSX workbook")
    assert "processing" not in why["错误说明"]  # the name the sender knows, not our claim's
    assert policies(engine) == 0
    assert {r.status for r in rows(engine)} == {"failed"}


def test_failed_content_dropped_again_is_tried_again_but_imported_content_never(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock,
        tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [policy_row(), policy_row()])
    shutil.copy(good, drop / "batch-1.csv")
    w = watcher(drop, sessions, settings, clock)
    assert [f["file"] for f in w.once().imported_files] == ["batch-1.csv"]
    shutil.copy(good, drop / "batch-1.csv")  # the same name and bytes, sent again
    shutil.copy(good, drop / "resent.csv")  # the same bytes under another name
    result = w.once()
    assert result.imported_files == result.failed_files == []
    dupes = {d["file"]: d for d in result.duplicate_files}
    assert sorted(dupes) == ["batch-1.csv", "resent.csv"]
    assert dupes["batch-1.csv"]["moved_to"] == "done/batch-1-2.csv"  # never over the first
    assert dupes["resent.csv"]["duplicate_of"] == "batch-1.csv"
    assert dupes["resent.csv"]["duplicate_of_status"] == "imported"
    assert "内容相同" in (drop / "done" / "resent.csv.duplicate.txt").read_text(encoding="utf-8")
    assert (drop / "done" / "batch-1.csv").exists()
    assert (drop / "done" / "batch-1-2.csv").exists()
    assert policies(engine) == 2
    assert len(rows(engine)) == 1
    bad = write_csv(tmp_path / "bad.csv", [policy_row(issue_date="x")])
    for _ in range(2):
        shutil.copy(bad, drop / "bad.csv")
        assert [f["file"] for f in w.once().failed_files] == ["bad.csv"]
    [_, failed] = rows(engine)
    assert (failed.status, failed.attempts) == ("failed", 2)


def test_partial_files_are_left_alone_until_they_stop_changing(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock,
        tmp_path: Path) -> None:
    full = write_csv(tmp_path / "full.csv", [policy_row(), policy_row()]).read_bytes()
    for name in (".hidden.csv", "upload.csv.part", "upload.csv.tmp", "UPLOAD.PART"):
        (drop / name).write_bytes(full)
    growing = drop / "growing.csv"
    growing.write_bytes(full[:40])
    (drop / "sub").mkdir()
    sleep = Sleeps()
    sleep.plan = [lambda: growing.write_bytes(full[:120])]  # the upload goes on while the watcher waits
    w = watcher(drop, sessions, settings, clock, sleep)
    result = w.once()
    assert result.handled == 0
    assert result.waiting_files == ["growing.csv"]
    assert growing.read_bytes() == full[:120]  # untouched, still in the folder
    growing.write_bytes(full)  # grown again before the next run's first look …

    def rewritten() -> None:  # … and rewritten at the same size while it waits
        stat = growing.stat()
        os.utime(growing, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    sleep.plan = [rewritten]
    assert w.once().waiting_files == ["growing.csv"]
    assert sleep.waits == [settings.drop.settle_seconds] * 2
    result = w.tick()  # as the previous look saw it: complete
    assert [f["file"] for f in result.imported_files] == ["growing.csv"]
    assert policies(engine) == 2
    assert sorted(p.name for p in drop.iterdir()) == [
        ".hidden.csv", "UPLOAD.PART", "done", "processing", "sub", "upload.csv.part", "upload.csv.tmp"]


def test_the_loop_looks_every_interval_and_imports_a_file_at_its_second_look(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    sleep = Sleeps()
    sleep.plan = [lambda: write_csv(drop / "late.csv", [policy_row()]), None, None]
    emitted: list[WatchResult] = []
    w = watcher(drop, sessions, settings, clock, sleep)
    w.watch(emitted.append, stop=lambda: len(sleep.waits) >= 3)
    assert sleep.waits == [settings.drop.interval_seconds] * 3  # four looks, an interval apart
    assert [[f["file"] for f in r.imported_files] for r in emitted] == [["late.csv"]]  # only looks that did something
    assert policies(engine) == 1


def test_two_watchers_at_once_import_each_file_once(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock,
        tmp_path: Path) -> None:
    for n in range(6):
        write_csv(drop / f"f{n}.csv", [policy_row(), policy_row()])
    twin = write_csv(tmp_path / "twin.csv", [policy_row()])
    shutil.copy(twin, drop / "twin-a.csv")
    shutil.copy(twin, drop / "twin-b.csv")
    barrier = threading.Barrier(2)
    sleeps = [Sleeps(), Sleeps()]
    for s in sleeps:
        s.plan = [lambda: barrier.wait(timeout=30)]  # both second looks start together: they race for the claims
    watchers = [watcher(drop, sessions, settings, clock, s, watcher_id=f"w{n}") for n, s in enumerate(sleeps)]
    results: list[WatchResult] = [WatchResult(), WatchResult()]

    def work(n: int) -> None:
        results[n] = watchers[n].once()

    assert run_together(2, work) == []
    imported = [f["file"] for r in results for f in r.imported_files]
    duplicates = [f["file"] for r in results for f in r.duplicate_files]
    assert sorted(imported + duplicates) == sorted([f"f{n}.csv" for n in range(6)] + ["twin-a.csv", "twin-b.csv"])
    assert len(duplicates) == 1
    assert duplicates[0].startswith("twin-")
    assert [f for r in results for f in r.failed_files] == []
    assert policies(engine) == 13
    assert len(rows(engine)) == 7
    assert {r.status for r in rows(engine)} == {"imported"}
    assert len(list((drop / "done").glob("*.csv"))) == 8


def test_a_dead_watchers_claim_is_taken_over_after_stale_minutes_and_a_live_one_is_not(
        engine: Engine, sessions: sessionmaker[Session], drop: Path, settings: Settings, clock: FrozenClock) -> None:
    write_csv(drop / "a.csv", [policy_row(), policy_row()])
    dead = watcher(drop, sessions, settings, clock, watcher_id="dead")
    dead.look()
    [name] = dead.look()[0]
    claim = dead._claim(drop / name, name)  # claimed, then the process died before importing
    assert claim is not None
    assert not (drop / "a.csv").exists()
    other = watcher(drop, sessions, settings, clock, watcher_id="other")
    assert other.once().handled == 0  # a fresh claim: its watcher may be working on it
    clock.advance(timedelta(minutes=settings.drop.stale_minutes + 1))
    result = other.tick()
    assert [f["file"] for f in result.imported_files] == ["a.csv"]
    assert policies(engine) == 2
    assert list((drop / "processing").iterdir()) == []
