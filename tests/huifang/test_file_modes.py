"""Personal data on disk is not readable by every local user (issue 15): the service runs with a private umask
set at start (every entry point goes through huifang.app.build_app), and the places that create files of
customers' data set their modes explicitly, whatever the umask: recordings 0440 in 0750 folders, export
bundles and played-out copies 0600, the SQLite database 0600, prompts 0640 in 0750 folders."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from huifang.app import build_app
from ivr.harness.local import LocalHarness
from ivr.harness.media import SilentRenderer
from kit.actor import Actor, Role
from recordings import compliance
from recordings.store import FileStore
from speech.cache import PromptCache
from storage.db import make_engine
from tests.recordings.test_compliance import recorded  # noqa: F401 - the fixture: a call with its recording stored

ROOT = Path(__file__).resolve().parents[2]
WHO = Actor.of("合规李", [Role.COMPLIANCE], [])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The umask most shells hand a process (022): what is created must not depend on it."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_every_entry_point_sets_a_private_umask(lax_umask: None, tmp_path: Path) -> None:
    build_app(None)
    now = os.umask(0o022)
    assert now & 0o027 == 0o027  # group may not write, others get nothing
    os.umask(0o077)
    build_app(None)
    assert os.umask(0o022) == 0o077  # a stricter umask is kept


def test_the_cli_creates_a_private_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "var" / "huifang.db"
    code = "import os; os.umask(0o022); from huifang.cli import main; main()"
    env = {**os.environ, "HUIFANG_DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, "db", "upgrade"], env=env, capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o750
    for extra in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if extra.exists():
            assert mode(extra) & 0o007 == 0, extra


def test_an_existing_world_readable_database_is_tightened(lax_umask: None, tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    sqlite3.connect(database).close()
    database.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert mode(database) & 0o007 == 0


def test_recordings_are_read_only_for_the_service_and_its_group(lax_umask: None, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "recordings")
    stored = store.put("2026/11/25/110100/P1/RE1.wav", b"audio")
    assert mode(tmp_path / "recordings" / stored.path) == 0o440
    folder = tmp_path / "recordings" / "2026/11/25/110100/P1"
    while folder != tmp_path:
        assert mode(folder) == 0o750, folder
        folder = folder.parent


def test_prompts_hold_names_and_are_not_for_everyone(lax_umask: None, tmp_path: Path) -> None:
    prompt = PromptCache(tmp_path / "prompts", SilentRenderer(), secret=b"s" * 32).get("赵敏女士", "zh-CN")
    assert mode(prompt.path) == 0o640
    assert mode(prompt.path.parent) == 0o750
    assert mode(tmp_path / "prompts") == 0o750


def test_export_bundles_and_played_copies_are_the_exporters_alone(lax_umask: None, recorded: LocalHarness,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    services = recorded.services
    now = services.clock.now()
    bundle, copy = tmp_path / "bundle.zip", tmp_path / "copy.wav"
    bundle.write_bytes(b"an older bundle")
    bundle.chmod(0o644)
    with services.sessions() as session, session.begin():
        policy_no = compliance.find(session, compliance.Filters(), actor=WHO, now=now)[0]["policy_no"]
        compliance.export(session, services.files, policy_no, bundle, actor=WHO, reason="投诉", now=now)
        sid = compliance.find(session, compliance.Filters(), actor=WHO, now=now)[0]["recording_sid"]
        compliance.playback(session, services.files, sid, copy, actor=WHO, reason="投诉", now=now)
    assert mode(bundle) == 0o600
    assert mode(copy) == 0o600
