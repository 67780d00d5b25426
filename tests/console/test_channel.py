"""The case page's 转换回访方式 form: the same channels.switch.move as `huifang tasks channel`, as the signed-in
user, in their branches only, refusals in Chinese beside the field; the channel shown on the case and policy pages."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from accounts.service import add_user
from kit.actor import operator_actor
from kit.settings import Settings
from kit.vocab import CallbackChannel, TaskStatus
from storage.models import AuditEvent, CallbackTask, Case, Policy
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, csrf, login

pytestmark = pytest.mark.db


def task_of(engine: Engine, policy_no: str) -> CallbackTask:
    with Session(engine) as s:
        return s.scalars(select(CallbackTask).join(Policy, Policy.id == CallbackTask.policy_id)
                         .where(Policy.policy_no == policy_no)).one()


def post(client: FlaskClient, case_id: int, **form: str) -> tuple[int, str]:
    path = f"/console/cases/{case_id}"
    reply = client.post(f"{path}/channel", data={"csrf_token": csrf(client, "/console/login"), **form})
    return reply.status_code, reply.headers.get("Location", "") or reply.get_data(as_text=True)


def test_a_branch_user_moves_the_callback_to_a_letter(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert '<span class="tag channel">电话回访</span>' in page
    assert f'action="/console/cases/{case_id}/channel"' in page
    assert '<option value="letter" >信函回访</option>' in page
    status, where = post(console, case_id, to="letter", reason="电话多次未接通")
    assert (status, where) == (302, f"/console/cases/{case_id}")
    after = console.get(where).get_data(as_text=True)
    with Session(engine) as s:
        letter = s.scalars(select(Case).where(Case.type == "letter_case")).one()
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel")).one()
    assert f"已转为信函回访，已生成信函件（工单 {letter.id}）" in after
    assert '<span class="tag channel">信函回访</span>' in after
    assert task_of(engine, "BJ1").channel is CallbackChannel.LETTER
    assert (entry.operator, entry.reason, entry.detail) == ("王芳", "电话多次未接通", "phone → letter")
    status, where = post(console, case_id, to="letter", reason="再次提交")
    assert "回访方式已是信函回访，未作更改" in console.get(where).get_data(as_text=True)
    policy_page = console.get("/console/policies/BJ1").get_data(as_text=True)
    assert "<th>回访方式</th>" in policy_page
    assert "<td>信函回访</td>" in policy_page


def test_a_refusal_is_shown_in_chinese_beside_the_field_with_the_input_kept(console: FlaskClient,
                                                                            engine: Engine) -> None:
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    status, page = post(console, case_id, to="visit", reason="")
    assert status == 422
    assert '<span class="field-error" role="alert">请填写原因（转换回访方式记入审计日志）</span>' in page
    assert '<option value="visit" selected>上门回访</option>' in page
    with Session(engine) as s:
        s.execute(update(CallbackTask).values(status=TaskStatus.COMPLETED, result_class="standard"))
        s.commit()
    status, page = post(console, case_id, to="visit", reason="分公司决定上门")
    assert status == 422
    assert "回访已成功（标准件），无需再转为其他回访方式</span>" in page
    assert 'value="分公司决定上门"' in page
    assert task_of(engine, "BJ1").channel is CallbackChannel.PHONE
    with Session(engine) as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "channel")).all() == []
        assert s.scalars(select(Case).where(Case.type == "in_person_visit_case")).all() == []


def test_another_branchs_case_is_not_found_and_a_reader_may_not(console: FlaskClient, engine: Engine,
                                                                session: Session, settings: Settings) -> None:
    add_user(session, operator_actor("root"), "合规李", PASSWORD, ["compliance"], [], now=NOW,
             settings=settings.console)
    session.commit()
    login(console, "王芳")
    assert post(console, case_of("TJ1", engine), to="letter", reason="x")[0] == 404
    console.post("/console/logout", data={"csrf_token": csrf(console, "/console/login")})
    login(console, "合规李")
    page = console.get(f"/console/cases/{case_of('BJ1', engine)}").get_data(as_text=True)
    assert "电话回访" in page  # it reads the channel
    assert "/channel" not in page  # but gets no form
    assert post(console, case_of("BJ1", engine), to="letter", reason="x")[0] == 403
    assert {task_of(engine, no).channel for no in ("BJ1", "TJ1")} == {CallbackChannel.PHONE}


def test_a_visit_is_recorded_with_its_visitor_never_the_agent(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    post(console, case_of("BJ1", engine), to="visit", reason="客户要求上门")
    with Session(engine) as s:
        visit = s.scalars(select(Case.id).where(Case.type == "in_person_visit_case")).one()
    path = f"/console/cases/{visit}"
    page = console.get(path).get_data(as_text=True)
    assert '上门回访人员 <input name="visitor" value="">' in page
    form = {"csrf_token": csrf(console, path), "action": "signed_questionnaire", "note": "上门回访问卷已签字",
            "version": "1"}
    refused = console.post(f"{path}/resolve", data={**form, "visitor": "张建国"})  # the policy's own agent
    assert refused.status_code == 422
    assert ('value="张建国"><span class="field-error" role="alert">上门回访不能由该保单的业务员（A1001）进行：'
            "回访人员不得为销售人员</span>") in refused.get_data(as_text=True)
    done = console.post(f"{path}/resolve", data={**form, "visitor": "李访"}, follow_redirects=True)
    assert "已处理：回访已完成：标准件；工单已办结" in done.get_data(as_text=True)
    assert "visitor 李访; 上门回访问卷已签字" in done.get_data(as_text=True)
