"""The e-callback page through HTTP (Flask's client): the contract's names, CSRF, identity by birth date and a
one-time code, each question, the confirmation, a used link and an expired one."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from werkzeug.test import TestResponse

from kit.vocab import TaskStatus
from speech.cache import PromptCache
from storage.models import EcallbackSnapshot
from tests.ecallback.world import BORN, World, build_world

pytestmark = pytest.mark.db
UA = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile"}


@pytest.fixture
def world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> World:
    return build_world(engine, tmp_path, prompt_cache)


def _csrf(page: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None
    return found[1]


def _post(client: FlaskClient, page: TestResponse, path: str, **form: str) -> TestResponse:
    return client.post(path, data={"csrf_token": _csrf(page), **form}, headers=UA)


def _identify(world: World, client: FlaskClient, born: str = BORN) -> TestResponse:
    page = client.get(world.path, headers=UA)
    sent = _post(client, page, f"{world.path}/code")
    assert "验证码已发送" in sent.get_data(as_text=True)
    return _post(client, sent, f"{world.path}/identity", birth_date=born, code=world.last_code())


def _seq(page: TestResponse) -> str:
    found = re.search(r'name="seq" value="(\d+)"', page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)
    return found[1]


def _answer_all(world: World, client: FlaskClient, first: str = "yes") -> TestResponse:
    page = client.get(world.path, headers=UA)
    values = [first]
    for _ in range(60):
        reply = _post(client, page, f"{world.path}/answer", seq=_seq(page), answer=values.pop(0) if values else "yes")
        if reply.status_code != 303:
            return reply
        page = client.get(world.path, headers=UA)
    raise AssertionError("the questionnaire did not end")


def test_the_identity_screen_has_the_contract_names_and_no_script(world: World) -> None:
    client = world.app.test_client()
    page = client.get(world.path, headers=UA)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="birth_date"' in html
    assert 'name="code"' in html
    assert "获取验证码" in html
    assert "<script" not in html
    assert "赵" not in html or "*" in html  # the name is masked
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    refused = client.post(f"{world.path}/code", data={})  # no CSRF token
    assert refused.status_code == 400


def test_all_yes_through_the_pages_is_standard_then_the_link_is_used(world: World) -> None:
    client = world.app.test_client()
    after = _identify(world, client)
    assert after.status_code == 303
    question = client.get(world.path, headers=UA)
    html = question.get_data(as_text=True)
    for value in ("yes", "no", "human"):
        assert f'name="answer" value="{value}"' in html
    done = _answer_all(world, client)
    assert done.status_code == 200
    assert "回访已完成" in done.get_data(as_text=True)
    task = world.ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "standard")
    call = world.session_call()
    assert call.channel == "ecallback"
    events = world.ivr.events(call.call_sid)
    screens = [e for e in events if e.kind == "screen"]
    assert {e.detail["screen"] for e in screens} >= {"identity", "question", "done"}
    assert all(len(e.detail["sha256"]) == 64 and e.detail["user_agent"].startswith("Mozilla") for e in screens)
    answers = [e for e in events if e.kind == "answer"]
    assert {e.who for e in answers} == {"applicant"}
    _snapshots_kept(world, call.id)
    used = client.get(world.path, headers=UA)
    assert "此链接已使用" in used.get_data(as_text=True)
    assert 'name="answer"' not in used.get_data(as_text=True)
    count = world.session_call().event_count
    again = _post(client, question, f"{world.path}/answer", seq=_seq(question), answer="no")
    assert "此链接已使用" in again.get_data(as_text=True)
    assert (world.ivr.task().result_class, world.session_call().event_count) == ("standard", count + 1)  # its screen


def _to_question(world: World, client: FlaskClient, words: str) -> TestResponse:
    """Answer yes until the question that contains `words`."""
    page = client.get(world.path, headers=UA)
    while words not in _question(page):
        _post(client, page, f"{world.path}/answer", seq=_seq(page), answer="yes")
        page = client.get(world.path, headers=UA)
    return page


def _question(page: TestResponse) -> str:
    found = re.search(r'<p class="question">([^<]+)</p>', page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)
    return found[1]


def test_no_shows_the_explanation_and_the_question_again_then_yes_is_sub_standard(world: World) -> None:
    client = world.app.test_client()
    _identify(world, client)
    page = _to_question(world, client, "保险责任、责任免除")
    question = _question(page)
    _post(client, page, f"{world.path}/answer", seq=_seq(page), answer="no")
    explained = client.get(world.path, headers=UA)
    assert _question(explained) == question
    assert "请问您现在清楚了吗" in explained.get_data(as_text=True)
    assert "保险责任" in explained.get_data(as_text=True).split('class="question"')[0]  # the explanation above
    done = _answer_all(world, client)
    assert "回访已完成" in done.get_data(as_text=True)
    assert world.ivr.task().result_class == "sub_standard"


def test_wrong_codes_lock_the_link(world: World) -> None:
    client = world.app.test_client()
    page = client.get(world.path, headers=UA)
    sent = _post(client, page, f"{world.path}/code")
    code = world.last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        reply = _post(client, sent, f"{world.path}/identity", birth_date=BORN, code=wrong)
    assert "已锁定" in reply.get_data(as_text=True)
    assert world.link().locked_at is not None
    locked = _post(client, sent, f"{world.path}/identity", birth_date=BORN, code=code)
    assert "链接已锁定" in locked.get_data(as_text=True)


def test_three_wrong_birth_dates_end_as_verification(world: World) -> None:
    client = world.app.test_client()
    reply = _identify(world, client, "1981-06-18")
    assert "不一致" in reply.get_data(as_text=True) or reply.status_code == 303
    for _ in range(2):
        page = client.get(world.path, headers=UA)
        assert 'name="code"' not in page.get_data(as_text=True)  # the code was given already
        reply = _post(client, page, f"{world.path}/identity", birth_date="1981-06-18")
    assert "回访已结束" in reply.get_data(as_text=True)
    task = world.ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "verification")
    assert world.link().used_at is not None


def test_an_expired_link_shows_a_clear_page_and_changes_nothing(world: World) -> None:
    client = world.app.test_client()
    page = client.get(world.path, headers=UA)
    world.ivr.clock.advance(timedelta(days=8))  # past the deadline day
    before = (world.link().updated_at, world.link().call_id)
    gone = client.get(world.path, headers=UA)
    assert gone.status_code == 410
    assert "链接已过期" in gone.get_data(as_text=True)
    refused = _post(client, page, f"{world.path}/code")
    assert refused.status_code == 410
    assert (world.link().updated_at, world.link().call_id) == before
    assert world.ivr.task().status is TaskStatus.QUEUED
    assert client.get("/e/not-a-token", headers=UA).status_code == 404


def _snapshots_kept(world: World, call_id: int) -> None:
    """The key screens are HTML files written once (0440) with their SHA-256, kept as long as recordings."""
    with world.ivr.session() as s:
        shots = list(s.scalars(select(EcallbackSnapshot).where(EcallbackSnapshot.call_id == call_id)
                               .order_by(EcallbackSnapshot.id)))
    kinds = [shot.kind for shot in shots]
    assert kinds[0] == "identity"
    assert kinds[-1] == "done"
    assert kinds.count("question") >= 5
    root = Path(world.ivr.svc.settings.recordings.root)
    for shot in shots:
        path = root / shot.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shot.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o440
        assert path.suffix == ".html"
        assert shot.retain_until is not None  # policy_row: a 20-year term
    assert "回访已完成" in (root / shots[-1].path).read_text(encoding="utf-8")


def test_the_identity_form_sent_again_answers_no_question(world: World) -> None:
    client = world.app.test_client()
    page = client.get(world.path, headers=UA)
    sent = _post(client, page, f"{world.path}/code")
    code = world.last_code()
    assert _post(client, sent, f"{world.path}/identity", birth_date=BORN, code=code).status_code == 303
    count = len([e for e in world.ivr.events(world.session_call().call_sid) if e.kind == "answer"])
    again = _post(client, sent, f"{world.path}/identity", birth_date=BORN, code=code)
    assert again.status_code == 303
    assert len([e for e in world.ivr.events(world.session_call().call_sid) if e.kind == "answer"]) == count
    more = _post(client, sent, f"{world.path}/code")
    assert "无需再次获取" in more.get_data(as_text=True)
    assert world.link().codes_sent == 1


def test_the_compliance_bundle_holds_the_session_and_its_screens(world: World, tmp_path: Path) -> None:
    from kit.actor import operator_actor
    from recordings import compliance
    from storage.db import unit_of_work

    client = world.app.test_client()
    _identify(world, client)
    _answer_all(world, client)
    out = tmp_path / "bundle.zip"
    svc = world.ivr.svc
    with unit_of_work(svc.sessions) as s:
        compliance.export(s, svc.files, world.ivr.policy_no, out, actor=operator_actor("合规"), reason="抽检",
                          now=svc.clock.now())
        s.commit()
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        manifest = dict(reversed(line.split("  ")) for line in bundle.read("manifest.sha256").decode().splitlines())
        screens = [n for n in names if n.startswith("screens/")]
        assert screens
        assert all(n.endswith(".html") and n in manifest for n in screens)
        session_json = json.loads(bundle.read(f"calls/{world.session_call().call_sid}.json"))
    assert (session_json["channel"], session_json["result_class"]) == ("ecallback", "standard")
    assert any(e["kind"] == "screen" for e in session_json["transcript"])


def test_screens_are_verified_and_purged_as_recordings_are(world: World) -> None:
    from datetime import date

    from kit.actor import Actor, Role
    from recordings import compliance
    from storage.db import unit_of_work

    keeper = Actor("档案管理员", frozenset({Role.COMPLIANCE}))
    client = world.app.test_client()
    _identify(world, client)
    _answer_all(world, client)
    svc = world.ivr.svc
    root = Path(svc.settings.recordings.root)
    with unit_of_work(svc.sessions) as s:
        shots = compliance.ecallback_snapshots(s, None)
        first = shots[0].path
        assert compliance.verify(s, svc.files, actor=keeper, now=svc.clock.now())["altered"] == []
        (root / first).chmod(0o640)
        (root / first).write_text("<p>改过</p>", encoding="utf-8")
        assert compliance.verify(s, svc.files, actor=keeper, now=svc.clock.now())["altered"] == [first]
        assert compliance.purge(s, svc.files, actor=keeper, now=svc.clock.now(), reason="到期")["purged"] == []
        for shot in shots:
            shot.retain_until = date(2026, 1, 1)
        purged = compliance.purge(s, svc.files, actor=keeper, now=svc.clock.now(), reason="到期")["purged"]
        s.commit()
    assert sorted(purged) == sorted(shot.path for shot in shots)
    assert not (root / first).exists()
    with unit_of_work(svc.sessions) as s:
        assert compliance.ecallback_snapshots(s, None) == []


def test_a_questionnaire_left_unfinished_is_marked_left_when_its_link_moves_on(world: World) -> None:
    from ecallback.jobs import decide
    from storage.db import unit_of_work

    client = world.app.test_client()
    _identify(world, client)
    svc = world.ivr.svc
    world.ivr.clock.advance(timedelta(days=5))  # Mon 30th: 3 working days, the session long idle
    with unit_of_work(svc.sessions) as s:
        report = decide(s, settings=svc.settings, calendar=svc.calendar, clock=svc.clock)
        s.commit()
    assert report.fell_through == {world.ivr.policy_no: "letter"}
    call = world.session_call()
    assert (call.outcome, call.end_reason, call.result_class) == ("hangup", None, None)
    assert world.ivr.events(call.call_sid)[-1].text == "abandoned"
    gone = client.get(world.path, headers=UA)
    assert gone.status_code == 410


def test_human_is_noted_for_a_person_to_call_back_and_opens_the_case(world: World) -> None:
    from flows.vocab import CaseType

    client = world.app.test_client()
    _identify(world, client)
    page = _to_question(world, client, "保险责任、责任免除")
    _post(client, page, f"{world.path}/answer", seq=_seq(page), answer="human")
    after = client.get(world.path, headers=UA).get_data(as_text=True)
    assert "稍后会有专人与您联系" in after  # the engine's words when no person can take it now
    _answer_all(world, client)
    assert world.ivr.task().result_class == "problem"
    assert [c.type for c in world.ivr.cases()] == [CaseType.CONTRACT_QUALITY_CASE]


def test_the_hotline_is_written_as_a_reader_expects_not_spelled_for_the_ear(world: World) -> None:
    """The robot says the hotline digit by digit (四零零零幺二三…); the page writes it as configured."""
    client = world.app.test_client()
    _identify(world, client)
    done = _answer_all(world, client)
    page = client.get(world.path, headers=UA).get_data(as_text=True) if done.status_code == 303 else \
        done.get_data(as_text=True)
    assert "4000-123-456" in page
    assert "幺" not in page


def test_a_questionnaire_left_open_goes_on_when_the_applicant_comes_back(world: World) -> None:
    """No time limit on the page (a phone call's would end it as language_barrier and open a dialect case): an
    applicant who comes back two hours later answers on and ends standard."""
    client = world.app.test_client()
    _identify(world, client)
    world.ivr.clock.advance(timedelta(hours=2))
    _answer_all(world, client)
    call = world.session_call()
    assert (call.end_reason, call.result_class) == ("completed", "standard")
