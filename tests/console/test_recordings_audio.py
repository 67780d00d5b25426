"""The recordings desk through Flask's test client: the audio a case page's player streams (range requests,
scoping by role and branch, 404 for anything not playable) and the audit trail's one line per playback."""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from accounts.service import add_user
from kit.actor import Actor, Role, operator_actor
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from recordings import compliance
from recordings.playback import PLAYBACK_WINDOW
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


# -- range requests ---------------------------------------------------------------------------------------


def test_the_whole_file_a_range_a_suffix_and_an_unsatisfiable_range(recorded: Recorded) -> None:
    client = recorded.client
    recorded.sign_in("王芳")
    url = recorded.url("BJ1")
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.data == AUDIO
    assert whole.data[:4] == b"RIFF"
    assert whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "private, no-store"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"

    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.data == AUDIO[100:200]
    assert len(part.data) == 100
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    assert part.headers["Content-Length"] == "100"
    assert part.headers["Cache-Control"] == "private, no-store"

    suffix = client.get(url, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206
    assert suffix.data == AUDIO[-100:]
    assert suffix.headers["Content-Range"] == f"bytes {len(AUDIO) - 100}-{len(AUDIO) - 1}/{len(AUDIO)}"

    open_ended = client.get(url, headers={"Range": "bytes=16000-"})
    assert (open_ended.status_code, open_ended.data) == (206, AUDIO[16000:])

    beyond = client.get(url, headers={"Range": f"bytes={len(AUDIO)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert beyond.data == b""
    assert client.get(url, headers={"Range": "bytes=oops"}).status_code == 416


# -- who may listen ---------------------------------------------------------------------------------------


def test_a_branch_user_plays_their_branchs_recording_and_not_another_branchs(recorded: Recorded) -> None:
    client = recorded.client
    assert client.get(recorded.url("BJ1")).headers["Location"].startswith("/console/login")  # not signed in
    recorded.sign_in("王芳")
    assert client.get(recorded.url("BJ1")).status_code == 200
    other = client.get(recorded.url("TJ1"))  # from the other branch's case page
    assert other.status_code == 404
    assert "未找到" in other.get_data(as_text=True)
    # another branch's recording asked for from their own case page: not of that case's policy
    own_case = f"case:{recorded.cases['BJ1']}"
    assert client.get(recorded.url("TJ1", own_case)).status_code == 404
    assert client.get(recorded.url("TJ1", "policy:TJ1")).status_code == 404
    assert client.get(f"/console/recordings/RE{'0' * 32}/audio?for={own_case}").status_code == 404


@pytest.mark.parametrize("name", ["合规李", "张总", "质检周"])
def test_compliance_supervisor_and_qa_play_every_branch(recorded: Recorded, name: str) -> None:
    recorded.sign_in(name)
    for no in ("BJ1", "TJ1"):
        reply = recorded.client.get(recorded.url(no))
        assert (reply.status_code, reply.data) == (200, AUDIO)


@pytest.mark.parametrize("name", ["坐席陈", "管理员"])
def test_agents_and_admins_may_not_play_recordings(recorded: Recorded, engine: Engine, name: str) -> None:
    """Agents: nothing records which agent took a handed-off call, so it cannot be scoped (403 for now)."""
    recorded.sign_in(name)
    reply = recorded.client.get(recorded.url("BJ1"))
    assert reply.status_code == 403
    assert "无权访问" in reply.get_data(as_text=True)
    assert audit_lines(engine) == []


def test_the_page_it_is_played_from_is_required_and_checked(recorded: Recorded, engine: Engine) -> None:
    client = recorded.client
    recorded.sign_in("合规李")
    sid = recorded.sids["BJ1"]
    for bad in ("", "?for=", "?for=case:x", "?for=case:1;drop", "?for=inbox:1"):
        assert client.get(f"/console/recordings/{sid}/audio{bad}").status_code == 400, bad
    assert client.get(recorded.url("BJ1", "case:99999")).status_code == 404
    assert client.get(recorded.url("BJ1", f"case:{recorded.cases['TJ1']}")).status_code == 404
    assert client.get(recorded.url("BJ1", "policy:NOPE")).status_code == 404
    assert client.get(recorded.url("BJ1", "policy:BJ1")).status_code == 200
    assert [line[3] for line in audit_lines(engine)] == ["在保单 BJ1 页面收听"]


# -- the audit trail --------------------------------------------------------------------------------------


def test_one_audit_line_per_playback_not_per_request(recorded: Recorded, engine: Engine, clock: FrozenClock) -> None:
    client = recorded.client
    recorded.sign_in("王芳")
    url = recorded.url("BJ1")
    sid, case_id = recorded.sids["BJ1"], recorded.cases["BJ1"]
    for asked in ("bytes=0-", "bytes=8000-", "bytes=-100"):  # press play, seek, seek to the end
        assert client.get(url, headers={"Range": asked}).status_code == 206
    line = (
        "王芳", "playback", sid, f"在工单 {case_id} 页面收听",
        f"call {twilio_sid('CA', 'BJ1', 1)}; policy BJ1; Range bytes=0-")
    assert audit_lines(engine) == [line]
    with Session(engine) as s:
        assert s.scalars(select(AuditEvent.at).where(AuditEvent.action == "playback")).one() == NOW

    assert client.get(url, headers={"Range": "bytes=0-"}).status_code == 206  # played again from the start
    assert client.get(url, headers={"Range": "bytes=100-199"}).status_code == 206
    assert audit_lines(engine) == [line, line]

    assert client.get(url).status_code == 200  # the whole file, no Range: a playback too
    assert client.get(url, headers={"Range": f"bytes={len(AUDIO)}-"}).status_code == 416  # nothing sent
    assert client.head(url).status_code == 200  # nothing sent
    lines = audit_lines(engine)
    assert len(lines) == 3
    assert lines[2][4].endswith("Range (whole file)")

    step = PLAYBACK_WINDOW * 2 / 3  # (each request keeps the session from its idle timeout)
    clock.advance(step)  # seeking in the same playback a while later
    assert client.get(url, headers={"Range": "bytes=8000-"}).status_code == 206
    assert len(audit_lines(engine)) == 3
    clock.advance(step)  # now longer than the window after that playback began
    assert client.get(url, headers={"Range": "bytes=8000-"}).status_code == 206
    assert len(audit_lines(engine)) == 4


def test_a_range_from_the_middle_is_audited_when_no_playback_began(recorded: Recorded, engine: Engine) -> None:
    """Skipping byte 0 does not get past the trail."""
    recorded.sign_in("合规李")
    assert recorded.client.get(recorded.url("TJ1"), headers={"Range": "bytes=1-"}).data == AUDIO[1:]
    assert recorded.client.get(recorded.url("TJ1"), headers={"Range": "bytes=200-"}).status_code == 206
    assert [(op, what, detail.rsplit("; ", 1)[-1]) for op, what, _, _, detail in audit_lines(engine)] == [
        ("合规李", "playback", "Range bytes=1-")]
    recorded.sign_in("张总")  # another user: their own line
    assert recorded.client.get(recorded.url("TJ1"), headers={"Range": "bytes=200-"}).status_code == 206
    assert [line[0] for line in audit_lines(engine)] == ["合规李", "张总"]


def test_refused_and_missing_leave_no_audit_line(recorded: Recorded, engine: Engine) -> None:
    recorded.sign_in("王芳")
    assert recorded.client.get(recorded.url("TJ1")).status_code == 404
    assert recorded.client.get(recorded.url("BJ1", "case:x")).status_code == 400
    assert audit_lines(engine) == []


# -- not playable -----------------------------------------------------------------------------------------


def test_a_purged_recording_is_404_and_the_case_page_says_so(recorded: Recorded, engine: Engine,
                                                             session: Session) -> None:
    later = datetime(2057, 1, 2, 10, 0, tzinfo=BUSINESS_TZ)  # a 20-year term from 2026, kept 10 years after
    keeper = Actor.of("合规李", [Role.COMPLIANCE])
    done = compliance.purge(session, recorded.files, actor=keeper, now=later, reason="保存期满",
                            recording_sid=recorded.sids["BJ1"])
    session.commit()
    assert done["purged"] == [recorded.sids["BJ1"]]
    recorded.sign_in("王芳")
    assert recorded.client.get(recorded.url("BJ1")).status_code == 404
    page = recorded.client.get(f"/console/cases/{recorded.cases['BJ1']}").get_data(as_text=True)
    assert "<audio" not in page
    assert "录音已过保存期限，于 2057-01-02 删除" in page
    assert [line[1] for line in audit_lines(engine)] == ["purge"]


def test_a_missing_file_is_404_and_logged_as_data_loss(recorded: Recorded, settings: Settings,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    stored = next(Path(settings.recordings.root).rglob(f"{recorded.sids['BJ1']}.wav"))
    stored.chmod(0o644)
    stored.unlink()
    recorded.sign_in("王芳")
    with caplog.at_level(logging.ERROR, logger="recordings.playback"):
        assert recorded.client.get(recorded.url("BJ1")).status_code == 404
    assert [r.levelno for r in caplog.records if recorded.sids["BJ1"] in r.getMessage()] == [logging.ERROR]
    assert "file is missing" in caplog.text
    page = recorded.client.get(f"/console/cases/{recorded.cases['BJ1']}").get_data(as_text=True)
    assert "录音文件缺失" in page
    assert "<audio" not in page


def test_a_recording_not_stored_yet_is_404_and_the_page_says_so(recorded: Recorded, session: Session,
                                                                settings: Settings) -> None:
    pending = add_call(session, "BJ1", 2, stored=None, settings=settings, files=recorded.files)
    session.commit()
    recorded.sign_in("王芳")
    case_id = recorded.cases["BJ1"]
    assert recorded.client.get(f"/console/recordings/{pending}/audio?for=case:{case_id}").status_code == 404
    page = recorded.client.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert "录音尚未保存" in page
    assert page.count("<audio") == 1  # the stored one only


# -- the case page ----------------------------------------------------------------------------------------


def test_the_case_page_has_a_player_whose_src_returns_the_audio(recorded: Recorded, engine: Engine) -> None:
    client = recorded.client
    recorded.sign_in("王芳")
    reply = client.get(f"/console/cases/{recorded.cases['BJ1']}")
    page = reply.get_data(as_text=True)
    players = re.findall(r'<audio controls controlslist="nodownload" preload="none" src="([^"]+)"', page)
    assert len(players) == 1
    assert "通话录音 2026-11-25 10:00 · 时长 1 分 05 秒" in page
    assert "<script>" not in page  # no inline script (only <script src> from the console)
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp  # media-src falls back to it: same-origin audio is allowed
    assert "media-src" not in csp
    assert audit_lines(engine) == []  # showing the page plays nothing
    audio = client.get(unescape(players[0]), headers={"Range": "bytes=0-"})
    assert (audio.status_code, audio.data, audio.mimetype) == (206, AUDIO, "audio/wav")
    assert len(audit_lines(engine)) == 1


def test_the_policy_page_plays_each_calls_recording_for_that_policy(recorded: Recorded, engine: Engine) -> None:
    recorded.sign_in("王芳")
    page = recorded.client.get("/console/policies/BJ1").get_data(as_text=True)
    players = re.findall(r'<audio controls controlslist="nodownload" preload="none" src="([^"]+)"', page)
    assert [unescape(p) for p in players] == [recorded.url("BJ1", "policy:BJ1")]
    audio = recorded.client.get(unescape(players[0]))
    assert (audio.status_code, audio.data) == (200, AUDIO)
    [(user, action, target, why, _)] = audit_lines(engine)
    assert (user, action, target) == ("王芳", "playback", recorded.sids["BJ1"])
    assert "BJ1" in why


# -- in a real browser ------------------------------------------------------------------------------------

@pytest.fixture
def served(recorded: Recorded) -> Iterator[str]:
    """The console on 127.0.0.1 in a thread, for Chromium."""
    server = make_server("127.0.0.1", 0, recorded.client.application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.browser
def test_chromium_plays_the_case_pages_recording_with_one_audit_line_per_playback(
        recorded: Recorded, served: str, engine: Engine, tmp_path: Path, page: Page) -> None:
    """Opening the page fetches no audio (preload="none"), pressing play is one line whatever ranges Chromium
    asks for, the CSP lets the same-origin audio play, and opening the page again and playing is another."""
    asked: list[str] = []
    refused: list[str] = []  # what the CSP blocked (the console has no favicon: that 404 is not counted)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: asked.append(r.headers.get("range", "-")) if "/audio" in r.url else None)
    page.goto(f"{served}/console/login")
    page.get_by_label("用户名").fill("王芳")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{served}/console/cases")
    page.goto(f"{served}/console/cases/{recorded.cases['BJ1']}")
    player = page.get_by_label("通话录音 2026-11-25 10:00 · 时长 1 分 05 秒")
    page.screenshot(path=tmp_path / "case-with-player.png", full_page=True)
    assert player.evaluate("a => a.readyState") == 0
    assert (asked, audit_lines(engine)) == ([], [])
    for _ in range(2):
        player.evaluate("a => a.play()")
        page.wait_for_function("() => document.querySelector('audio').ended")
        player.evaluate("a => { a.currentTime = 0.5; return a.play(); }")  # seek back and play on
        page.wait_for_function("() => document.querySelector('audio').ended")
    assert len(audit_lines(engine)) == 1
    page.reload()
    page.get_by_label("通话录音 2026-11-25 10:00 · 时长 1 分 05 秒").evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('audio').ended")
    assert refused == []
    assert asked[0] == "bytes=0-"
    assert [line[:2] for line in audit_lines(engine)] == [("王芳", "playback")] * 2
