"""The recordings desk's world: the console fixture with one stored recording (a real WAV) per policy, staff of
every role that plays or may not play, and the audit trail's recording lines."""
from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from kit.actor import operator_actor
from kit.settings import Settings
from recordings.service import RecordingCallback, announce, claim, finish_stored
from recordings.store import FileStore
from storage.models import AuditEvent, CallbackTask, Policy
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, login

RATE = 8000


def tone_wav(seconds: float = 1.0) -> bytes:
    """A real WAV (8 kHz mono 16-bit, Twilio's telephone format): a 440 Hz tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / RATE)))
                                 for i in range(int(seconds * RATE))))
    return buffer.getvalue()


AUDIO = tone_wav()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The console fixture's settings, with the recordings store in the test's directory."""
    base = Settings()
    return replace(base, recordings=replace(base.recordings, root=str(tmp_path / "recordings")))


STAFF = {"合规李": ("compliance", []), "质检周": ("qa", []), "坐席陈": ("agent", ["110100"]), "管理员": ("admin", [])}


@dataclass(frozen=True)
class Recorded:
    client: FlaskClient
    engine: Engine
    settings: Settings
    files: FileStore
    sids: dict[str, str]  # policy_no → RecordingSid
    cases: dict[str, int]  # policy_no → case id

    def url(self, policy_no: str, origin: str | None = None) -> str:
        return f"/console/recordings/{self.sids[policy_no]}/audio?for={origin or f'case:{self.cases[policy_no]}'}"

    def sign_in(self, name: str) -> None:
        """Sign in as 王芳 (branch 110100) or 张总 (supervisor) of the console fixture, or one of STAFF, added
        first (only when a test needs them: hashing a password is slow on purpose)."""
        if name in STAFF:
            role, branches = STAFF[name]
            with Session(self.engine) as s:
                add_user(s, operator_actor("root"), name, PASSWORD, [role], branches, now=NOW,
                         settings=self.settings.console)
                s.commit()
        login(self.client, name)


def twilio_sid(prefix: str, policy_no: str, n: int) -> str:
    """A SID of Twilio's shape for a policy's nth call or recording: "CA" + hex("BJ1") + n, 32 hex digits."""
    return prefix + (policy_no.encode().hex() + f"{n:x}").rjust(32, "0")


def add_call(session: Session, policy_no: str, n: int, *, stored: bytes | None, settings: Settings,
             files: FileStore) -> str:
    """An answered call of the policy whose recording Twilio announced; downloaded and stored unless
    `stored` is None (then it stays pending). Through the services the webhooks and the downloader use."""
    policy = session.scalars(select(Policy).where(Policy.policy_no == policy_no)).one()
    task = session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
    call_sid, recording_sid = twilio_sid("CA", policy_no, n), twilio_sid("RE", policy_no, n)
    call = call_repo.create(session, call_sid=call_sid, task_id=task.id, policy_id=policy.id, now=NOW)
    call.dialled_number = policy.applicant_phone
    call.started_at, call.answered_at, call.duration_s = NOW, NOW, 66
    callback = RecordingCallback.parse({"CallSid": call_sid, "RecordingSid": recording_sid,
                                        "RecordingStatus": "completed", "RecordingDuration": "65",
                                        "RecordingUrl": f"https://api.twilio.com/Recordings/{recording_sid}"})
    announce(session, call, policy, callback, now=NOW, settings=settings.recordings)
    if stored is not None:
        [held] = claim(session, "test", now=NOW, settings=settings.recordings, limit=1, recording_sid=recording_sid)
        assert finish_stored(session, held, files.put(held.path, stored), now=NOW)
    return recording_sid


@pytest.fixture
def recorded(console: FlaskClient, engine: Engine, session: Session, settings: Settings) -> Recorded:
    """The console fixture (BJ1 in 110100, TJ1 in 120100, a case each; 王芳 branch 110100, 张总 supervisor)
    with one stored recording per policy."""
    files = FileStore(Path(settings.recordings.root))
    sids = {no: add_call(session, no, 1, stored=AUDIO, settings=settings, files=files) for no in ("BJ1", "TJ1")}
    session.commit()
    return Recorded(console, engine, settings, files, sids, {no: case_of(no, engine) for no in ("BJ1", "TJ1")})


RECORDING_ACTIONS = ("find", "export", "playback", "purge", "verify", "dispute")  # not the accounts' lines


def audit_lines(engine: Engine) -> list[tuple[str, str, str, str, str]]:
    """The trail's lines about recordings: user, action, what, why, detail."""
    with Session(engine) as s:
        stmt = select(AuditEvent).where(AuditEvent.action.in_(RECORDING_ACTIONS)).order_by(AuditEvent.id)
        return [(a.operator, a.action, a.target, a.reason, a.detail) for a in s.scalars(stmt)]
