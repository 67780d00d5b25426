"""The console shows an e-callback like a call: on the policy's timeline as 电子化回访 with its answers and the
key screens kept, each screen readable in the viewer's scope only, sandboxed, audited, checked against its
SHA-256."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from accounts.service import add_user
from kit.actor import operator_actor
from speech.cache import PromptCache
from storage.models import AuditEvent, Branch, EcallbackSnapshot
from tests.console.conftest import PASSWORD, login
from tests.ecallback.test_pages import _answer_all, _identify
from tests.ecallback.world import World, build_world

pytestmark = pytest.mark.db


@pytest.fixture
def world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> World:
    built = build_world(engine, tmp_path, prompt_cache)
    svc = built.ivr.svc
    with built.ivr.session() as s:
        root = operator_actor("root")
        now = svc.clock.now()
        s.add(Branch(code="120100", name="天津分公司", created_at=now))
        s.flush()
        add_user(s, root, "王芳", PASSWORD, ["branch"], ["110100"], now=now, settings=svc.settings.console)
        add_user(s, root, "李雷", PASSWORD, ["branch"], ["120100"], now=now, settings=svc.settings.console)
        s.commit()
    return built


def test_the_policy_page_shows_the_e_callback_and_its_screens(world: World) -> None:
    applicant = world.app.test_client()
    _identify(world, applicant)
    _answer_all(world, applicant)
    policy_no = world.ivr.policy_no
    staff = world.app.test_client()
    assert login(staff, "王芳").startswith("/console")
    page = staff.get(f"/console/policies/{policy_no}").get_data(as_text=True)
    assert "电子化回访" in page
    assert "页面快照" in page
    assert "身份核实页" in page
    assert "问题页" in page
    links = re.findall(r'href="(/console/recordings/screens/\d+\?for=policy:[^"]+)"', page.replace("&amp;", "&"))
    assert links
    shown = staff.get(links[0])
    assert shown.status_code == 200
    assert shown.headers["Content-Security-Policy"].startswith("sandbox")
    assert "no-store" in shown.headers["Cache-Control"]
    with world.ivr.session() as s:
        trail = s.scalars(select(AuditEvent).where(AuditEvent.action == "snapshot")).all()
        assert [(e.operator, policy_no in e.detail) for e in trail] == [("王芳", True)]

    other = world.app.test_client()
    login(other, "李雷")
    assert other.get(links[0]).status_code == 404  # another branch's policy: as if it did not exist
    assert other.get(links[0].replace(f"policy:{policy_no}", "policy:NOPE")).status_code == 404


def test_a_screen_whose_file_changed_is_not_shown(world: World) -> None:
    applicant = world.app.test_client()
    _identify(world, applicant)
    _answer_all(world, applicant)
    with world.ivr.session() as s:
        shot = s.scalars(select(EcallbackSnapshot).order_by(EcallbackSnapshot.id)).first()
        assert shot is not None
    path = world.ivr.svc.files.local_path(shot.path)
    path.chmod(0o640)
    path.write_bytes(path.read_bytes() + b"<!-- changed -->")
    staff = world.app.test_client()
    login(staff, "王芳")
    url = f"/console/recordings/screens/{shot.id}?for=policy:{world.ivr.policy_no}"
    assert staff.get(url).status_code == 404
    with world.ivr.session() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "snapshot")).all() == []
