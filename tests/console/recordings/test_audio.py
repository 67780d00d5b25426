"""The audio a case page's player streams, through Flask's test client: range requests, who may listen (scoped
by role and branch), and 404 for anything not playable."""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kit.actor import Actor, Role
from kit.clock import BUSINESS_TZ
from kit.settings import Settings
from recordings import compliance
from tests.console.recordings.conftest import AUDIO, Recorded, add_call, audit_lines

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
