"""Every playback on the audit trail, once (not once per range request), and the players on the case and
policy pages, in the test client and in real Chromium."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from kit.clock import FrozenClock
from recordings.playback import PLAYBACK_WINDOW
from storage.models import AuditEvent
from tests.conftest import NOW
from tests.console.conftest import PASSWORD
from tests.console.recordings.conftest import AUDIO, Recorded, audit_lines, twilio_sid

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
