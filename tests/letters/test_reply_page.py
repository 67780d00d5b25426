"""The case page's 录入签字问卷 form: the questions from the flow engine, 是/否 each; posted with the scan, the
answers go through letters.replies (the phone's classifier), the work order closes, and the policy's timeline
shows the session with its scan served as what it is. Refusals in Chinese beside the field, the input kept;
another branch's user gets 404."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update

from kit.vocab import CallbackChannel, CaseStatus, TaskStatus
from letters.replies import paper_context, questionnaire
from speech.cache import PromptCache
from storage.models import AuditEvent, Call, CallbackTask, Case, EcallbackSnapshot, Policy
from tests.console.conftest import login
from tests.letters.reply_world import FAKE_PDF, PDF, World, build_world, case_row

pytestmark = pytest.mark.db


@pytest.fixture
def world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> World:
    return build_world(engine, tmp_path, prompt_cache)


def _questions(world: World) -> list[tuple[str, str]]:
    with world.ivr.session() as s:
        task = s.get(CallbackTask, world.ivr.task_id)
        assert task is not None
        policy = s.get(Policy, task.policy_id)
        assert policy is not None
        return [(q.step, q.text) for q in questionnaire(s, paper_context(world.ivr.svc.calls), task, policy).questions]


def _form(page: str) -> dict[str, str]:
    """The hidden fields of the 录入签字问卷 form, as the page gave them."""
    form = page[page.index("录入签字问卷"):]
    return {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def _post(client: FlaskClient, world: World, answers: dict[str, str], *, scan: bytes = PDF,
          filename: str = "scan.pdf", **extra: str) -> tuple[int, str]:
    path = f"/console/cases/{world.case_id}"
    hidden = _form(client.get(path).get_data(as_text=True))
    data: dict[str, object] = {**hidden, **{f"answer.{k}": v for k, v in answers.items()},
                               "signed_on": "2026-11-20", "note": "回执 R-7", **extra,
                               "scan": (io.BytesIO(scan), filename)}
    reply = client.post(f"{path}/reply", data=data, content_type="multipart/form-data")
    return reply.status_code, reply.headers.get("Location", "") or reply.get_data(as_text=True)


def _calls(world: World) -> int:
    with world.ivr.session() as s:
        return s.scalar(select(func.count()).select_from(Call)) or 0


def test_the_form_lists_the_engines_questions_and_records_the_reply(world: World) -> None:
    client = world.app.test_client()
    assert login(client, "王芳").startswith("/console")
    page = client.get(f"/console/cases/{world.case_id}").get_data(as_text=True)
    questions = _questions(world)
    assert len(questions) >= 3
    for step, text in questions:
        assert text in page
        assert f'name="answer.{step}" value="yes" required' in page
    assert 'enctype="multipart/form-data"' in page
    status, where = _post(client, world, dict.fromkeys((s for s, _ in questions), "yes"))
    assert (status, where) == (302, f"/console/cases/{world.case_id}")
    after = client.get(where).get_data(as_text=True)
    assert "已录入签字问卷：回访结果 标准件，工单已办结" in after
    assert case_row(world).status is CaseStatus.CLOSED
    timeline = client.get("/console/policies/" + world.ivr.policy_no).get_data(as_text=True)
    assert "信函回访" in timeline
    assert "签字问卷：" in timeline
    links = re.findall(r'href="(/console/recordings/screens/\d+\?for=policy:[^"]+)"', timeline.replace("&amp;", "&"))
    assert len(links) == 1
    shown = client.get(links[0])
    assert shown.status_code == 200
    assert shown.mimetype == "application/pdf"
    assert shown.data == PDF
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in shown.headers["Cache-Control"]
    with world.ivr.session() as s:
        assert [e.operator for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "snapshot"))] == ["王芳"]


def test_a_fake_pdf_is_refused_beside_the_field_with_the_answers_kept(world: World) -> None:
    client = world.app.test_client()
    login(client, "王芳")
    questions = _questions(world)
    answers = {step: ("no" if n == 0 else "yes") for n, (step, _) in enumerate(questions)}
    status, page = _post(client, world, answers, scan=FAKE_PDF)
    assert status == 422
    assert "扫描件须为 PDF、JPG 或 PNG 文件（按文件内容检查，不看文件名）</span>" in page
    assert f'name="answer.{questions[0][0]}" value="no" checked' in page
    assert 'value="2026-11-20"' in page
    assert "回执 R-7" in page
    assert _calls(world) == 0
    assert case_row(world).status is CaseStatus.OPEN
    status, page = _post(client, world, {step: "yes" for step, _ in questions[1:]})
    assert status == 422
    assert '请选择“是”或“否”</span>' in page
    assert _calls(world) == 0


def test_a_visit_by_the_policys_own_agent_is_refused_with_the_rule_named(engine: Engine, tmp_path: Path,
                                                                         prompt_cache: PromptCache) -> None:
    world = build_world(engine, tmp_path, prompt_cache, CallbackChannel.VISIT)
    client = world.app.test_client()
    login(client, "王芳")
    assert "上门回访人员" in client.get(f"/console/cases/{world.case_id}").get_data(as_text=True)
    answers = dict.fromkeys((s for s, _ in _questions(world)), "yes")
    status, page = _post(client, world, answers, visitor="A1001")
    assert status == 422
    assert "上门回访不能由该保单的业务员（A1001）进行：回访人员不得为销售人员</span>" in page
    assert 'value="A1001"' in page
    assert _calls(world) == 0
    with world.ivr.session() as s:
        assert s.scalar(select(func.count()).select_from(EcallbackSnapshot)) == 0
        task = s.get(CallbackTask, world.ivr.task_id)
        assert task is not None
        assert task.status is TaskStatus.QUEUED
    assert case_row(world).status is CaseStatus.OPEN


def test_a_stale_form_says_so(world: World) -> None:
    client = world.app.test_client()
    login(client, "王芳")
    answers = dict.fromkeys((s for s, _ in _questions(world)), "yes")
    old = case_row(world).version_id
    with world.ivr.session() as s:
        s.execute(update(Case).where(Case.id == world.case_id).values(assigned_to="王芳", version_id=old + 1))
        s.commit()
    status, page = _post(client, world, answers, version=str(old))
    assert status == 422
    assert "该工单已被他人修改，请刷新后重试" in page
    assert _calls(world) == 0


def test_another_branchs_user_cannot_post_it(world: World) -> None:
    client = world.app.test_client()
    login(client, "李雷")
    assert client.get(f"/console/cases/{world.case_id}").status_code == 404
    answers = dict.fromkeys((s for s, _ in _questions(world)), "yes")
    reply = client.post(f"/console/cases/{world.case_id}/reply",
                        data={**{f"answer.{k}": v for k, v in answers.items()}, "signed_on": "2026-11-20",
                              "csrf_token": _csrf_of(client), "scan": (io.BytesIO(PDF), "scan.pdf")},
                        content_type="multipart/form-data")
    assert reply.status_code == 404
    assert _calls(world) == 0


def _csrf_of(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/console/cases").get_data(as_text=True))
    assert found is not None
    return found.group(1)
