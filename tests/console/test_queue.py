"""The case queue desk (console part 1): the assignee and month filters in the URL and the form, invalid
parameters named in Chinese, exports of exactly the filtered rows (CSV with a BOM, XLSX, formula guard, audit,
cap), assigning on the case page within the branch rules, and bulk assignment for supervisors."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import timedelta
from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from cases.outcomes import EffectCode, Refusal
from cases.service import NewCase, open_cases
from console.cases.messages import EFFECT_ZH, REFUSAL_ZH
from console.cases.queries import PAGE_SIZE
from flows.vocab import CaseType
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from storage.models import AuditEvent, CallbackTask, Case, Policy
from tests.conftest import NOW
from tests.console.conftest import case_of, csrf, login

HEADER = ["工单号", "保单号", "投保人", "手机号", "机构", "工单类型", "原因", "SLA 状态", "截止时间", "剩余/超时", "处理人",
          "创建时间"]


def _more_cases(engine: Engine, settings: Settings, calendar: BusinessCalendar, policy_no: str, count: int,
                when: timedelta = timedelta()) -> None:
    with Session(engine) as s, s.begin():
        policy = s.scalars(select(Policy).where(Policy.policy_no == policy_no)).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        open_cases(s, [NewCase(policy.id, task.id, policy.branch_id, CaseType.DIALECT_CASE, "language_barrier",
                               f"{policy_no} 批量 {i}") for i in range(count)], now=NOW + when,
                   settings=settings.cases, calendar=calendar)


def _assign_in_db(engine: Engine, case_id: int, to: str) -> None:
    with Session(engine) as s, s.begin():
        case = s.get(Case, case_id)
        assert case is not None
        case.assigned_to = to


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/console/cases/(\d+)">\d+</a>', page)]


def _csv_rows(reply: bytes) -> list[list[str]]:
    assert reply.startswith(b"\xef\xbb\xbf")  # the BOM: Excel in China reads it as UTF-8
    return list(csv.reader(io.StringIO(reply.decode("utf-8-sig"))))


def test_the_assignee_filter_narrows_and_stays_in_the_form(console: FlaskClient, engine: Engine) -> None:
    login(console, "张总")
    bj, tj = case_of("BJ1", engine), case_of("TJ1", engine)
    _assign_in_db(engine, bj, "张总")
    assert _ids(console.get("/console/cases?assignee=me").get_data(as_text=True)) == [bj]
    assert _ids(console.get("/console/cases?assignee=unassigned").get_data(as_text=True)) == [tj]
    assert sorted(_ids(console.get("/console/cases?assignee=anyone").get_data(as_text=True))) == sorted([bj, tj])
    page = console.get("/console/cases?assignee=unassigned&type=first_explanation_case").get_data(as_text=True)
    assert _ids(page) == [tj]
    assert 'value="unassigned" selected' in page
    assert "共 <strong>1</strong> 条" in page


def test_the_month_filter_is_the_beijing_month_the_case_was_raised(console: FlaskClient, engine: Engine,
                                                                   settings: Settings,
                                                                   calendar: BusinessCalendar) -> None:
    _more_cases(engine, settings, calendar, "BJ1", 1, when=-timedelta(days=30))  # raised 2026-10-26
    login(console, "王芳")
    november = console.get("/console/cases?month=2026-11").get_data(as_text=True)
    october = console.get("/console/cases?month=2026-10").get_data(as_text=True)
    assert "BJ1 待处理" in november
    assert "BJ1 批量 0" not in november
    assert "BJ1 批量 0" in october
    assert 'name="month" value="2026-10"' in october
    assert "没有符合条件的工单" in console.get("/console/cases?month=2026-09").get_data(as_text=True)


@pytest.mark.parametrize(("query", "words"), [
    ("month=2026-13", "month 参数格式应为 2026-11"), ("month=11/2026", "month 参数格式应为 2026-11"),
    ("assignee=everyone", "assignee 参数应为 me、unassigned 或 anyone"),
    ("type=nonsense", "type 参数无效：nonsense"), ("sla_status=late", "sla_status 参数应为 normal、warning 或 overdue"),
    ("page=abc", "page 参数应为正整数"), ("format=pdf", "format 参数应为 xlsx 或 csv"),
])
def test_an_invalid_parameter_is_named_in_chinese_and_the_page_still_shows(console: FlaskClient, query: str,
                                                                          words: str) -> None:
    login(console, "王芳")
    reply = console.get(f"/console/cases?{query}")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert reply.mimetype == "text/html"
    assert words in page
    assert "BJ1" in page  # the other filters (none here) still apply


def test_pagination_keeps_the_filters(console: FlaskClient, engine: Engine, settings: Settings,
                                      calendar: BusinessCalendar) -> None:
    _more_cases(engine, settings, calendar, "BJ1", PAGE_SIZE + 5)
    login(console, "王芳")
    first = console.get("/console/cases?month=2026-11&assignee=unassigned").get_data(as_text=True)
    assert len(_ids(first)) == PAGE_SIZE
    assert "共 <strong>56</strong> 条" in first
    link = re.search(r'<a href="\?([^"]+)">下一页</a>', first)
    assert link is not None
    assert set(link.group(1).replace("&amp;", "&").split("&")) == {"month=2026-11", "assignee=unassigned", "page=2"}
    second = console.get("/console/cases?" + link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(_ids(second)) == 6
    assert not set(_ids(first)) & set(_ids(second))


def test_the_csv_export_is_every_filtered_row_in_order_in_the_users_scope(console: FlaskClient, engine: Engine,
                                                                         settings: Settings,
                                                                         calendar: BusinessCalendar) -> None:
    _more_cases(engine, settings, calendar, "BJ1", PAGE_SIZE + 5)
    _more_cases(engine, settings, calendar, "TJ1", 3)
    login(console, "王芳")
    shown = _ids(console.get("/console/cases?month=2026-11").get_data(as_text=True))
    shown += _ids(console.get("/console/cases?month=2026-11&page=2").get_data(as_text=True))
    reply = console.get("/console/cases?month=2026-11&format=csv")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = reply.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="cases-20261125-1000.csv"; filename*=UTF-8\'\'')
    assert unquote(disposition.split("''", 1)[1]) == "问题件工单-20261125-1000.csv"
    rows = _csv_rows(reply.data)
    assert rows[0] == HEADER
    assert [int(r[0]) for r in rows[1:]] == shown  # all pages, the page's order
    assert len(rows) - 1 == PAGE_SIZE + 6
    assert {r[4] for r in rows[1:]} == {"110100"}  # no other branch's rows
    assert "TJ1" not in reply.data.decode("utf-8-sig")
    first = dict(zip(HEADER, rows[1], strict=True))
    assert (first["保单号"], first["投保人"], first["工单类型"], first["原因"], first["SLA 状态"]) == (
        "BJ1", "赵敏", "方言件", "语言沟通不畅", "正常")
    assert (first["截止时间"], first["剩余/超时"], first["创建时间"], first["处理人"]) == (
        "2026-12-02 10:00", "剩余 7 天", "2026-11-25 10:00", "")
    assert re.fullmatch(r"1\d{10}", first["手机号"])


def test_exported_cells_cannot_run_as_formulas(console: FlaskClient, engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.execute(update(Policy).where(Policy.policy_no == "BJ1").values(applicant_name="=HYPERLINK(\"http://x\")"))
    _assign_in_db(engine, case_of("BJ1", engine), "@SUM(A1)")
    login(console, "王芳")
    row = dict(zip(HEADER, _csv_rows(console.get("/console/cases?format=csv").data)[1], strict=True))
    assert row["投保人"] == "'=HYPERLINK(\"http://x\")"
    assert row["处理人"] == "'@SUM(A1)"
    sheet = load_workbook(io.BytesIO(console.get("/console/cases?format=xlsx").data)).active
    assert sheet is not None
    assert sheet["C2"].value == "'=HYPERLINK(\"http://x\")"
    assert sheet["C2"].data_type == "s"  # text, not a formula
    assert sheet["K2"].value == "'@SUM(A1)"


def test_the_xlsx_export_opens_with_a_bold_frozen_chinese_header(console: FlaskClient, engine: Engine) -> None:
    login(console, "张总")
    reply = console.get("/console/cases?format=xlsx&type=first_explanation_case")
    assert reply.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''%E9%97%AE%E9%A2%98%E4%BB%B6" in reply.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(reply.data)).active
    assert sheet is not None
    rows = [[c.value for c in line] for line in sheet.iter_rows()]
    assert rows[0] == HEADER
    assert [r[1] for r in rows[1:]] == ["TJ1"]
    assert sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
    assert (sheet.column_dimensions["B"].width or 0) >= 15


def test_every_export_writes_one_audit_line(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    console.get("/console/cases?month=2026-11&assignee=unassigned&format=csv")
    console.get("/console/cases?month=2026-11")  # a page view is not an export
    with Session(engine) as s:
        lines = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "case_export")))
    assert [(a.operator, a.target, a.detail) for a in lines] == [
        ("王芳", "cases: assignee=unassigned, month=2026-11", "csv, 1 rows")]


def test_an_export_past_the_cap_is_refused_with_a_message(console: FlaskClient, engine: Engine, settings: Settings,
                                                          calendar: BusinessCalendar) -> None:
    _more_cases(engine, settings, calendar, "BJ1", 3)
    ctx = console.application.extensions["huifang.console"]
    ctx.settings = replace(ctx.settings, console=replace(ctx.settings.console, export_max_rows=3))
    login(console, "王芳")
    reply = console.get("/console/cases?format=xlsx")
    assert reply.mimetype == "text/html"
    assert "符合条件的工单共 4 条，超过单次导出上限 3 条，请缩小查询范围" in reply.get_data(as_text=True)
    assert console.get("/console/cases?format=csv&q=不存在").mimetype == "text/csv"  # within the cap: fine
    with Session(engine) as s:
        assert [a.detail for a in s.scalars(select(AuditEvent).where(AuditEvent.action == "case_export"))] == [
            "csv, 0 rows"]


def test_a_branch_user_assigns_within_the_branch_on_the_case_page(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    path = f"/console/cases/{case_id}"
    page = console.get(path).get_data(as_text=True)
    assert '<datalist id="assignees"><option value="王芳"></datalist>' in page  # no one from head office
    token = csrf(console, path)
    refused = console.post(f"{path}/assign", data={"csrf_token": token, "to": "张总", "version": "1"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "张总 不是本机构（110100）的工单处理人员：只能分派给本机构人员" in text
    assert 'name="to" list="assignees" value="张总"' in text  # the input is kept
    done = console.post(f"{path}/assign", data={"csrf_token": token, "to": "王芳", "version": "1"},
                        follow_redirects=True)
    assert "已分派给 王芳" in done.get_data(as_text=True)
    assert "当前处理人：王芳" in done.get_data(as_text=True)
    stale = console.post(f"{path}/assign", data={"csrf_token": token, "to": "王芳", "version": "1"})
    assert "该工单已被他人修改，请刷新后重试" in stale.get_data(as_text=True)
    other = console.post(f"/console/cases/{case_of('TJ1', engine)}/assign", data={"csrf_token": token, "to": "王芳"})
    assert other.status_code == 404
    assert _ids(console.get("/console/cases?assignee=me").get_data(as_text=True)) == [case_id]


def test_a_supervisor_bulk_assigns_and_a_stale_case_does_not_lose_the_others(console: FlaskClient, engine: Engine,
                                                                            settings: Settings,
                                                                            calendar: BusinessCalendar) -> None:
    _more_cases(engine, settings, calendar, "BJ1", 2)
    login(console, "张总")
    page = console.get("/console/cases?month=2026-11").get_data(as_text=True)
    boxes = re.findall(r'name="case" value="(\d+):(\d+)" form="bulk-assign"', page)
    assert len(boxes) == 4
    assert "批量分派" in page
    stale_id = int(boxes[1][0])
    _assign_in_db(engine, stale_id, "B0009")  # someone else's change since the list was shown
    token = csrf(console, "/console/cases")
    reply = console.post("/console/cases/assign", data={
        "csrf_token": token, "to": "王芳", "case": [f"{i}:{v}" for i, v in boxes], "back": "month=2026-11&page=1"})
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/console/cases?month=2026-11&page=1"  # back to the same view
    shown = console.get(reply.headers["Location"]).get_data(as_text=True)
    assert "已分派 3 件工单给 王芳" in shown
    assert f"未分派 1 件：工单 {stale_id}：该工单已被他人修改，请刷新后重试" in shown
    with Session(engine) as s:
        assigned = {i: to for i, to in s.execute(select(Case.id, Case.assigned_to))}
    assert assigned[stale_id] == "B0009"
    assert sorted(i for i, to in assigned.items() if to == "王芳") == sorted(int(i) for i, _ in boxes
                                                                           if int(i) != stale_id)
    nothing = console.post("/console/cases/assign", data={"csrf_token": token, "to": "王芳"}, follow_redirects=True)
    assert "请先勾选要分派的工单" in nothing.get_data(as_text=True)
    nobody = console.post("/console/cases/assign", data={"csrf_token": token, "to": " ", "case": boxes[0][0]},
                          follow_redirects=True)
    assert "请填写处理人" in nobody.get_data(as_text=True)


def test_bulk_assignment_is_for_supervisors_only(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    page = console.get("/console/cases").get_data(as_text=True)
    assert 'name="case"' not in page
    assert "批量分派" not in page
    assert "select-all.js" not in page
    token = csrf(console, "/console/cases")
    case_id = case_of("BJ1", engine)
    reply = console.post("/console/cases/assign", data={"csrf_token": token, "to": "王芳", "case": f"{case_id}:1"})
    assert reply.status_code == 403
    with Session(engine) as s:
        assert s.get(Case, case_id).assigned_to is None  # type: ignore[union-attr]
    assert console.post("/console/cases/assign", data={"to": "王芳", "case": f"{case_id}:1"}).status_code == 400


def test_a_refused_resolution_redisplays_the_input_with_the_message_beside_the_field(console: FlaskClient,
                                                                                    engine: Engine) -> None:
    login(console, "王芳")
    path = f"/console/cases/{case_of('BJ1', engine)}"
    token = csrf(console, path)
    night = console.post(f"{path}/resolve", data={"csrf_token": token, "action": "appointment_set",
                                                  "at": "2026-11-25 23:00", "note": "客户说晚上有空", "phone": "",
                                                  "version": "1"})
    assert night.status_code == 422
    text = night.get_data(as_text=True)
    assert re.search(r'name="at" value="2026-11-25 23:00"[^>]*><span class="field-error" role="alert">'
                     r"约定时间 2026-11-25 23:00 在夜间，机器人夜间不拨打电话</span>", text)
    assert '<option value="appointment_set" selected>' in text
    assert "客户说晚上有空</textarea>" in text
    typo = console.post(f"{path}/resolve", data={"csrf_token": token, "action": "appointment_set", "at": "明天下午",
                                                 "version": "1"})
    assert "时间格式应为 2026-11-30 14:00" in typo.get_data(as_text=True)
    wrong = console.post(f"{path}/resolve", data={"csrf_token": token, "action": "phone_corrected",
                                                  "phone": "13912345678", "version": "1"})
    assert "“号码已更正”不适用于方言件" in wrong.get_data(as_text=True)
    assert 'name="phone" value="13912345678"' in wrong.get_data(as_text=True)
    nothing = console.post(f"{path}/resolve", data={"csrf_token": token, "version": "1"})
    assert "请选择处理方式" in nothing.get_data(as_text=True)
    with Session(engine) as s:
        assert s.scalars(select(Case.status).where(Case.id == case_of("BJ1", engine))).one().value == "open"


def test_every_refusal_and_effect_has_chinese_words() -> None:
    assert set(REFUSAL_ZH) == set(Refusal)
    assert set(EFFECT_ZH) == set(EffectCode)


def test_compliance_exports_every_branch_but_may_not_assign(console: FlaskClient, engine: Engine,
                                                            session: Session, settings: Settings) -> None:
    from accounts.service import add_user
    from kit.actor import operator_actor
    from tests.console.conftest import PASSWORD

    add_user(session, operator_actor("root"), "周敏", PASSWORD, ["compliance"], [], now=NOW, settings=settings.console)
    session.commit()
    login(console, "周敏")
    rows = _csv_rows(console.get("/console/cases?format=csv").data)
    assert sorted(r[1] for r in rows[1:]) == ["BJ1", "TJ1"]
    path = f"/console/cases/{case_of('BJ1', engine)}"
    page = console.get(path).get_data(as_text=True)
    assert "提交" not in page  # read-only: no forms
    assert "批量分派" not in console.get("/console/cases").get_data(as_text=True)
    token = csrf(console, "/console/cases")
    for form in ("assign", "resolve"):
        refused = console.post(f"{path}/{form}", data={"csrf_token": token, "to": "王芳", "action": "surrendered",
                                                      "note": "x"})
        assert refused.status_code == 403
        assert "无权访问" in refused.get_data(as_text=True)
    with Session(engine) as s:
        assert s.scalars(select(Case.status).where(Case.policy_id == select(Policy.id).where(
            Policy.policy_no == "BJ1").scalar_subquery())).one().value == "open"


def test_a_refusal_for_want_of_a_role_reads_in_chinese() -> None:
    from console.cases.messages import refusal_zh
    from kit.actor import CASE_HANDLERS, Actor, NotAllowed, Role

    with pytest.raises(NotAllowed) as refused:
        Actor.of("周敏", [Role.COMPLIANCE]).require(CASE_HANDLERS, "handle cases")
    assert refusal_zh(refused.value) == "您的账号无权进行此操作（需要：机构处理人员、主管）"
