"""The console's first desk through Flask's test client: sign-in with CSRF, lockout, the case queue scoped by
branch, filters in the URL, SLA tags in words, security headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from kit.actor import operator_actor
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.models import Case, Policy
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, csrf, login


def test_a_branch_user_signs_in_and_sees_only_their_branch(console: FlaskClient) -> None:
    assert console.get("/console/cases").headers["Location"].startswith("/console/login")
    assert login(console, "王芳") == "/console/"
    assert console.get("/console/").headers["Location"] == "/console/cases"
    page = console.get("/console/cases").get_data(as_text=True)
    assert "BJ1" in page
    assert "赵敏" in page
    assert "TJ1" not in page
    assert "钱进" not in page
    assert "方言件" in page
    assert "正常" in page
    assert "剩余 7 天" in page  # 7 natural days, opened just now
    assert console.get("/console/cases?branch=120100").get_data(as_text=True).count("待处理") == 0


def test_a_supervisor_sees_every_branch_and_filters_stay_in_the_url(console: FlaskClient) -> None:
    login(console, "张总")
    page = console.get("/console/cases").get_data(as_text=True)
    assert "BJ1" in page
    assert "TJ1" in page
    by_type = console.get("/console/cases?type=first_explanation_case").get_data(as_text=True)
    assert "TJ1" in by_type
    assert "BJ1" not in by_type
    assert 'value="first_explanation_case" selected' in by_type
    assert "BJ1" in console.get("/console/cases?q=赵敏").get_data(as_text=True)
    assert "BJ1" not in console.get("/console/cases?q=钱进").get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused(console: FlaskClient) -> None:
    reply = console.post("/console/login", data={"username": "王芳", "password": PASSWORD})
    assert reply.status_code == 400
    assert console.get("/console/cases").status_code == 302  # not signed in


def test_wrong_passwords_are_refused_in_chinese_and_lock_the_account(console: FlaskClient) -> None:
    for _ in range(5):
        assert "用户名或密码错误" in login(console, "王芳", "wrong password")
    assert "账号已锁定" in login(console, "王芳")


def test_signing_out_ends_the_session(console: FlaskClient) -> None:
    login(console, "王芳")
    token = csrf(console, "/console/cases")
    assert console.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert console.get("/console/cases").status_code == 302


def test_pages_forbid_framing_and_inline_script(console: FlaskClient) -> None:
    reply = console.get("/console/login")
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    assert "<script>" not in reply.get_data(as_text=True)  # only <script src=…> from the console itself
    cookie = console.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


@pytest.mark.parametrize(("status", "hours", "words"), [
    ("normal", 150, "剩余 6 天"), ("warning", 5, "剩余 5 小时"), ("warning", 0.5, "剩余 30 分钟"),
    ("overdue", -49, "已超时 2 天"),
])
def test_the_sla_in_words(status: str, hours: float, words: str) -> None:
    from datetime import timedelta

    from console.cases.routes import sla_words

    assert sla_words(status, NOW + timedelta(hours=hours), NOW) == words


def test_a_case_page_shows_the_policy_with_the_id_number_masked(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    page = console.get(f"/console/cases/{case_of('BJ1', engine)}").get_data(as_text=True)
    with Session(engine) as s:
        id_no = s.scalars(select(Policy.applicant_id_no).where(Policy.policy_no == "BJ1")).one()
    assert f"{id_no[:6]}********{id_no[-4:]}" in page
    assert id_no not in page
    assert "赵敏" in page
    assert "BJ1 待处理" in page
    assert "<td>2026-11-25 10:00</td><td>系统</td><td>创建工单</td>" in page  # history in Beijing time, Chinese
    assert "回访任务：待拨打" in page


def test_another_branchs_case_is_not_found(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    other = case_of("TJ1", engine)
    assert console.get(f"/console/cases/{other}").status_code == 404
    assert console.get("/console/cases/999999").status_code == 404
    token = csrf(console, "/console/cases")
    refused = console.post(f"/console/cases/{other}/resolve", data={"csrf_token": token, "action": "surrendered",
                                                                    "note": "x"})
    assert refused.status_code == 404
    with Session(engine) as s:
        assert s.get(Case, other).status.value == "open"  # type: ignore[union-attr]


def test_resolving_in_the_form_runs_the_same_rules_and_says_what_it_did(console: FlaskClient,
                                                                          engine: Engine) -> None:
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    path = f"/console/cases/{case_id}"
    token = csrf(console, path)
    refused = console.post(f"{path}/resolve", data={"csrf_token": token, "action": "overdue_explanation",
                                                    "version": "1"})
    assert refused.status_code == 422
    assert "请在备注中填写逾期情况说明" in refused.get_data(as_text=True)
    assert "--note" not in refused.get_data(as_text=True)
    done = console.post(f"{path}/resolve", data={"csrf_token": token, "action": "surrendered", "note": "犹豫期内退保",
                                                 "version": "1"}, follow_redirects=True)
    assert "已处理：回访已取消；工单已撤销" in done.get_data(as_text=True)
    assert "BJ1" not in console.get("/console/cases").get_data(as_text=True)  # it left the queue


def test_a_stale_form_says_someone_else_changed_the_case(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    token = csrf(console, f"/console/cases/{case_id}")
    with Session(engine) as s, s.begin():
        case = s.get(Case, case_id)
        assert case is not None
        case.assigned_to = "B0009"  # someone else's change since the form was shown (version 1 → 2)
    stale = console.post(f"/console/cases/{case_id}/resolve",
                         data={"csrf_token": token, "action": "surrendered", "note": "退保", "version": "1"})
    assert stale.status_code == 422
    assert "该工单已被他人修改，请刷新后重试" in stale.get_data(as_text=True)
    assert "退保</textarea>" in stale.get_data(as_text=True)  # the user's input is kept
    with Session(engine) as s:
        assert s.get(Case, case_id).status.value == "open"  # type: ignore[union-attr]


def test_an_idle_session_is_signed_out(console: FlaskClient, clock: FrozenClock) -> None:
    login(console, "王芳")
    clock.set(clock.now() + timedelta(minutes=29))
    assert console.get("/console/cases").status_code == 200  # in use: the idle time starts again
    clock.set(clock.now() + timedelta(minutes=29))
    assert console.get("/console/cases").status_code == 200
    clock.set(clock.now() + timedelta(minutes=31))
    reply = console.get("/console/cases")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/console/login")


def test_a_page_refreshing_itself_does_not_keep_an_idle_session_alive(console: FlaskClient, clock: FrozenClock) -> None:
    """The dialer page and an import's progress poll every few seconds: those requests carry X-Console-Poll and
    do not count as use, so a desk left open still signs out; htmx is told to take the whole page to sign-in."""
    login(console, "王芳")
    poll = {"HX-Request": "true", "X-Console-Poll": "1"}
    signed_in_at = clock.now()
    for minutes in (10, 20, 29):
        clock.set(signed_in_at + timedelta(minutes=minutes))
        assert console.get("/console/cases", headers=poll).status_code == 200  # still signed in, not renewed
    clock.set(signed_in_at + timedelta(minutes=31))  # 31 minutes since the last use, 2 since the last poll
    reply = console.get("/console/cases", headers=poll)
    assert (reply.status_code, reply.headers["HX-Redirect"]) == (401, "/console/login")
    assert console.get("/console/cases").status_code == 302  # the session was ended


def test_an_htmx_swap_by_the_user_counts_as_use(console: FlaskClient, clock: FrozenClock) -> None:
    login(console, "王芳")
    clock.set(clock.now() + timedelta(minutes=29))
    assert console.get("/console/cases?type=", headers={"HX-Request": "true"}).status_code == 200
    clock.set(clock.now() + timedelta(minutes=29))
    assert console.get("/console/cases").status_code == 200


def test_a_desk_outside_the_users_roles_is_refused_in_chinese(console: FlaskClient, session: Session,
                                                               settings: Settings) -> None:
    add_user(session, operator_actor("root"), "李客服", PASSWORD, ["agent"], ["110100"], now=NOW, settings=settings.console)
    session.commit()
    login(console, "李客服")
    reply = console.get("/console/cases")
    assert reply.status_code == 403
    assert "无权访问" in reply.get_data(as_text=True)


def test_not_found_is_a_page_in_chinese(console: FlaskClient) -> None:
    login(console, "王芳")
    reply = console.get("/console/cases/424242")
    assert reply.status_code == 404
    assert "未找到" in reply.get_data(as_text=True)


@pytest.mark.parametrize(("name", "roles", "branches", "desk"), [
    ("王芳", None, None, "/console/cases"), ("张总", None, None, None),
    ("合规李", ["compliance"], [], "/console/cases"), ("李客服", ["agent"], ["110100"], "/console/agent"),
    ("管理员", ["admin"], [], "/console/users")])
def test_each_role_lands_on_its_own_desk(console: FlaskClient, session: Session, settings: Settings, name: str,
                                         roles: list[str] | None, branches: list[str] | None, desk: str | None) -> None:
    """None: the desk is /console/ itself (the supervisor's dashboard)."""
    if roles is not None:
        add_user(session, operator_actor("root"), name, PASSWORD, roles, branches or [], now=NOW,
                 settings=settings.console)
        session.commit()
    assert login(console, name) == "/console/"
    landing = console.get("/console/")
    if desk is None:
        assert landing.status_code == 200
        assert "回访作业看板" in landing.get_data(as_text=True)
        return
    assert landing.headers["Location"] == desk
    assert console.get(desk).status_code == 200


def test_the_accounts_page_is_the_administrators(console: FlaskClient, session: Session,
                                                 settings: Settings) -> None:
    add_user(session, operator_actor("root"), "管理员", PASSWORD, ["admin"], [], now=NOW, settings=settings.console)
    session.commit()
    login(console, "王芳")
    assert console.get("/console/users").status_code == 403
    login(console, "管理员")
    page = console.get("/console/users").get_data(as_text=True)
    assert "王芳" in page
    assert "机构处理人员" in page  # roles in Chinese
    assert "110100" in page
    assert "argon2" not in page  # no password hash ever reaches a page
