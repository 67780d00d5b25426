"""The supervisor's dialer page `/console/dialer` through the test client: the pause form and the resume buttons
(the same service as `huifang dialer pause|resume`, audited), the forms' messages, a stale resume, the dialers'
heartbeats in Beijing time with stale ones marked, today's due backlog by hour, and who may see and do what."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from dialer import controls
from dialer.status import Beat, record_tick
from kit.actor import Actor, operator_actor
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.models import AuditEvent, CallbackTask, Policy
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, csrf, login


def _post(client: FlaskClient, path: str, **form: str) -> tuple[int, str, str]:
    reply = client.post(path, data={**form, "csrf_token": csrf(client, "/console/dialer")})
    return reply.status_code, reply.headers.get("Location", ""), reply.get_data(as_text=True)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_supervisor_pauses_a_branch_and_resumes_it(console: FlaskClient, engine: Engine) -> None:
    login(console, "张总")
    page = console.get("/console/dialer").get_data(as_text=True)
    assert "当前没有暂停" in page
    assert "最近一天没有拨号程序运行" in page
    assert 'href="/console/dialer">拨号控制</a>' in page  # in the supervisor's nav
    status, target, _ = _post(console, "/console/dialer/pause", branch="110100", product_type="", reason="号码批次待核对")
    assert (status, target) == (302, "/console/dialer")
    page = _text(console.get("/console/dialer").get_data(as_text=True))
    assert "已暂停拨号：机构 北京分公司（110100）（拨号程序在下一次运行时生效）" in page
    assert "机构 北京分公司（110100） 2026-11-25 10:00 张总 号码批次待核对" in page
    assert "部分暂停" in page
    assert "当前待拨 2 件（其中暂停中 1 件）" in page
    with Session(engine) as s:
        assert [p.branch for p in controls.pauses_in_force(s)] == ["110100"]
    status, target, _ = _post(console, "/console/dialer/resume", branch="110100", product_type="", pause="1",
                              reason="已核对")
    assert (status, target) == (302, "/console/dialer")
    page = _text(console.get("/console/dialer").get_data(as_text=True))
    assert "已恢复拨号：机构 北京分公司（110100）" in page
    assert "当前没有暂停" in page
    assert "机构 北京分公司（110100） 2026-11-25 10:00 张总 号码批次待核对 2026-11-25 10:00 张总 已核对" in page  # history
    with Session(engine) as s:
        audit = [(e.operator, e.action, e.target, e.reason) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
                 if e.action.startswith("dialer_")]
    assert audit == [("张总", "dialer_paused", "dialer: branch 110100", "号码批次待核对"),
                     ("张总", "dialer_resumed", "dialer: branch 110100", "已核对")]


def test_the_forms_say_what_is_wrong_and_keep_the_input(console: FlaskClient, engine: Engine) -> None:
    login(console, "张总")
    status, _, page = _post(console, "/console/dialer/pause", branch="120100", product_type="health", reason=" ")
    assert status == 400
    assert '<span class="field-error">原因：请填写原因（将记入审计日志）</span>' in page
    assert '<option value="120100" selected>' in page
    assert '<option value="health" selected>' in page
    status, _, page = _post(console, "/console/dialer/pause", branch="990000", product_type="", reason="x")
    assert (status, "机构：没有代码为 990000 的机构" in page) == (400, True)
    status, _, page = _post(console, "/console/dialer/pause", branch="", product_type="annuity", reason="x")
    assert (status, "险种：请从列表中选择" in page) == (400, True)
    assert _post(console, "/console/dialer/pause", branch="", product_type="health", reason="话术更新")[0] == 302
    status, _, page = _post(console, "/console/dialer/pause", branch="", product_type="health", reason="again")
    assert status == 400
    assert "险种 健康险已在暂停中（张总 于 2026-11-25 10:00 暂停，原因：话术更新），可能是其他人刚刚暂停的" in page
    with Session(engine) as s:  # someone else resumes it meanwhile: the button on the old page is stale
        controls.resume(s, Actor.of("李总", ["supervisor"]), branch=None, product_type="health", reason="完成", now=NOW)
        s.commit()
    status, _, page = _post(console, "/console/dialer/resume", branch="", product_type="health", pause="1", reason="完成")
    assert status == 400
    assert "险种 健康险当前未暂停，无需恢复（可能已被其他人恢复）。当前暂停：无" in page
    with Session(engine) as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "dialer_paused", AuditEvent.reason == "again")) is None


def test_the_dialers_table_in_beijing_time_with_stale_ones_marked(console_app: Flask, console: FlaskClient,
                                                                   engine: Engine, clock: FrozenClock) -> None:
    with Session(engine) as s:
        for name, ago, every, backoff in (("web1:101", 4, 5, None), ("web2:202", 600, 5, None),
                                          ("web1:303", 3600, None, NOW + timedelta(seconds=20))):
            record_tick(s, Beat(name, NOW - timedelta(hours=2), NOW - timedelta(seconds=ago), every, 3, 0, backoff,
                                0.5 if name == "web1:101" else 0.0, 1.0))
        policy = s.scalars(select(Policy).where(Policy.policy_no == "TJ1")).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        task.next_attempt_at = NOW + timedelta(hours=4, minutes=10)  # due at 14:10 today
        s.commit()
    login(console, "张总")
    html = console.get("/console/dialer").get_data(as_text=True)
    page = _text(html)
    assert "web1:101 运行中 2026-11-25 09:59:56 0 — 0.5 / 1 3" in page
    assert "web2:202 已失联 已 10 分钟无响应 2026-11-25 09:50:00" in page
    assert "web1:303 退避中 2026-11-25 09:00:00 0 2026-11-25 10:00:20" in page  # a one-off run, backing off
    assert "实际呼叫速率合计 0.5 次/秒" in page
    section = html[html.index('aria-label="今日待拨"'):]
    head, body = (re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", section[section.index(tag):section.index(end)])
                  for tag, end in (("<thead>", "</thead>"), ("<tbody>", "</tbody>")))
    backlog = dict(zip((_text(cell).strip() for cell in head), (_text(cell).strip() for cell in body), strict=True))
    assert backlog == {"时段": "到期任务", "0 点前": "1", **{f"{h} 时": "0" for h in range(9, 21) if h != 10},
                       "10 时（当前）": "0", "14 时": "1", "合计": "2"}
    assert 'hx-trigger="every 10s"' in html
    assert 'hx-select="#live"' in html


def test_an_administrator_views_without_the_controls(console_app: Flask, console: FlaskClient, engine: Engine,
                                                       settings: Settings) -> None:
    with Session(engine) as s:
        add_user(s, operator_actor("root"), "管理员", PASSWORD, ["admin"], [], now=NOW, settings=settings.console)
        controls.pause(s, Actor.of("张总", ["supervisor"]), branch=None, product_type=None, reason="全面暂停", now=NOW)
        s.commit()
    login(console, "管理员")
    reply = console.get("/console/dialer")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "全面暂停" in page
    assert '<span class="tag overdue">全部暂停</span>' in page
    assert "/console/dialer/pause" not in page
    assert "/console/dialer/resume" not in page
    assert _post(console, "/console/dialer/resume", branch="", product_type="", reason="x")[0] == 403
    branch_user = console_app.test_client()
    login(branch_user, "王芳")
    assert branch_user.get("/console/dialer").status_code == 403
    assert "拨号控制" not in branch_user.get("/console/cases").get_data(as_text=True)
    with Session(engine) as s:
        assert len(controls.pauses_in_force(s)) == 1
