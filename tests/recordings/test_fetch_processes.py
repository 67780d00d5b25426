"""Two recording retry jobs in two processes on PostgreSQL: every pending recording downloaded exactly once."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import wave
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kit.settings import Settings
from kit.vocab import RecordingStatus
from storage.models import Recording
from tests.conftest import NOW
from tests.factories import policy_row, write_csv

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = 40
ACCOUNT = "AC" + "0" * 32


def audio_of(sid: str) -> bytes:
    """A short WAV file of its own for each recording (only complete WAV files are stored)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(sid.encode() * 10)
    return buffer.getvalue()


@dataclass
class MediaHost:
    """Twilio's media host on 127.0.0.1: serves each recording, notes who fetched what. The first request of
    each process waits until the other process has made one too, so both jobs are mid-run together (with
    nothing slept): the two processes' runs always overlap."""

    fetched: list[tuple[str, str]] = field(default_factory=list)  # (process, RecordingSid)
    started: set[str] = field(default_factory=set)
    rendezvous: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=120))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> ThreadingHTTPServer:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                user = base64.b64decode(self.headers["Authorization"].split()[1]).decode().split(":")[0]
                sid = self.path.rsplit("/", 1)[-1].removesuffix(".wav")
                with host.lock:
                    host.fetched.append((user, sid))
                    first = user not in host.started
                    host.started.add(user)
                if first:
                    host.rendezvous.wait()
                body = audio_of(sid)
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
                pass

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def media_host() -> Iterator[tuple[MediaHost, str]]:
    host = MediaHost()
    server = host.serve()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield host, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def pending(backend: str, engine: Engine, tmp_path: Path, media_host: tuple[MediaHost, str]) -> list[str]:
    """RECORDINGS calls, each with a whole-call recording announced and not downloaded yet."""
    if backend != "postgresql":
        pytest.skip("several downloader processes need PostgreSQL (SQLite runs one dialer)")
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from kit.calendar import BusinessCalendar
    from kit.clock import FrozenClock
    from recordings.service import RecordingCallback, announce
    from storage.db import make_session_factory, units_of_work
    from storage.models import CallbackTask, Policy
    from storage.repositories import calls as call_repo

    _host, base = media_host
    settings = Settings()
    path = write_csv(tmp_path / "policies.csv", [policy_row() for _ in range(RECORDINGS)])
    sids: list[str] = []
    with make_session_factory(engine)() as session, session.begin():
        PolicyIntake(units_of_work(make_session_factory(engine)), settings=settings, calendar=BusinessCalendar(), clock=FrozenClock(NOW)).run(open_table(path))
        for n, task in enumerate(session.scalars(select(CallbackTask).order_by(CallbackTask.id)), start=1):
            policy = session.get(Policy, task.policy_id)
            assert policy is not None
            call = call_repo.create(session, call_sid=f"CA{n:032d}", task_id=task.id, policy_id=policy.id, now=NOW)
            sid = f"RE{n:032d}"
            callback = RecordingCallback(call_sid=call.call_sid, recording_sid=sid, status="completed",
                                         url=f"{base}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}",
                                         duration_s=60, channels=2, error_code=None)
            announce(session, call, policy, callback, now=NOW, settings=settings.recordings)
            sids.append(sid)
    assert len(sids) == RECORDINGS
    return sids


def _start(url: str, name: str, root: Path, media: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.recordings.run_fetch", url, name, NOW.isoformat(), str(root),
                             media],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _finish(process: subprocess.Popen[str]) -> dict[str, int]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    result: dict[str, int] = json.loads(out)
    return result


def test_two_retry_jobs_download_every_pending_recording_exactly_once(
        pending: list[str], media_host: tuple[MediaHost, str], db_url: str, engine: Engine, tmp_path: Path) -> None:
    host, base = media_host
    root = tmp_path / "recordings"
    results = [_finish(p) for p in [_start(db_url, name, root, base) for name in ("p1", "p2")]]
    assert Counter(sid for _who, sid in host.fetched) == Counter(pending)  # each exactly once
    assert {who for who, _sid in host.fetched} == {"p1", "p2"}  # both ran, at the same time
    assert sum(r["stored"] for r in results) == RECORDINGS
    assert sum(r["pending"] for r in results) == 0
    with engine.connect() as conn:
        rows = conn.execute(select(Recording.recording_sid, Recording.status, Recording.sha256, Recording.path,
                                   Recording.claimed_by)).all()
    assert len(rows) == RECORDINGS
    for sid, status, sha256, path, claimed_by in rows:
        assert (status, claimed_by) == (RecordingStatus.STORED, None), sid
        assert sha256 == hashlib.sha256(audio_of(sid)).hexdigest()
        assert (root / path).read_bytes() == audio_of(sid)
