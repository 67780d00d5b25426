"""The policy desk through Flask's test client: the search by each key inside the user's branches, the policy
page (masked ID number, money and Beijing times, the callback task) and its timeline of calls, cases and their
handling; another branch's policy is not found; agents use their own desk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from flows.vocab import ResultClass
from kit.actor import operator_actor
from kit.clock import FrozenClock
from kit.settings import Settings
from kit.vocab import CallOutcome, RecordingStatus
from storage.models import CallbackTask, Policy, Recording
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, csrf, login
from tests.factories import policy_row
from tests.intake.test_service import make


def _more(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
          rows: list[dict[str, str]]) -> None:
    folder = tmp_path / "more"
    folder.mkdir(exist_ok=True)
    make(session, folder, settings, clock)(rows)
    session.commit()


def _page(client: FlaskClient, path: str) -> str:
    reply = client.get(path)
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def test_an_exact_policy_number_goes_straight_to_the_policy(console: FlaskClient) -> None:
    login(console, "王芳")
    reply = console.get("/console/policies?q=BJ1")
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/console/policies/BJ1"
    assert console.get("/console/policies?q=bj1").headers["Location"] == "/console/policies/BJ1"


def test_a_policy_number_prefix_lists_the_matches_exact_first(console: FlaskClient, session: Session,
                                                               tmp_path: Path, settings: Settings,
                                                               clock: FrozenClock) -> None:
    _more(session, tmp_path, settings, clock, [policy_row(policy_no="BJ10", applicant_name="孙丽"),
                                               policy_row(policy_no="AB1", applicant_name="周强")])
    login(console, "王芳")
    page = _page(console, "/console/policies?q=BJ1")  # BJ1 exactly, and BJ10 by its start: a list
    assert 'href="/console/policies/BJ1"' in page
    assert 'href="/console/policies/BJ10"' in page
    assert page.index("/console/policies/BJ1\"") < page.index("/console/policies/BJ10\"")
    assert "AB1" not in page
    assert "孙丽" in page
    assert "北京分公司" in page
    assert "2026-12-01" in page  # the cooling-off end
    assert "待拨打" in page  # the callback status in words


def test_a_phone_number_is_found_however_it_is_written(console: FlaskClient, session: Session, tmp_path: Path,
                                                        settings: Settings, clock: FrozenClock) -> None:
    _more(session, tmp_path, settings, clock, [policy_row(policy_no="BJ2", applicant_name="孙丽",
                                                          applicant_phone="139 1234 5678"),
                                               policy_row(policy_no="BJ3", applicant_name="周强",
                                                          applicant_phone="13912345679")])
    login(console, "王芳")
    for written in ("13912345678", "139-1234-5678", "+86 139 1234 5678", "+8613912345678"):
        page = _page(console, "/console/policies?q=" + written.replace("+", "%2B"))
        assert "BJ2" in page, written
        assert "+8613912345678" in page
        assert "BJ3" not in page, written  # exact, not a neighbour
    assert "BJ2" not in _page(console, "/console/policies?q=1391234567")  # a number cut short matches nothing


def test_an_applicant_name_exact_or_in_part(console: FlaskClient, session: Session, tmp_path: Path,
                                            settings: Settings, clock: FrozenClock) -> None:
    _more(session, tmp_path, settings, clock, [policy_row(policy_no="BJ2", applicant_name="欧阳娜娜"),
                                               policy_row(policy_no="BJ3", applicant_name="欧阳修")])
    login(console, "王芳")
    exact = _page(console, "/console/policies?q=欧阳娜娜")
    assert "BJ2" in exact
    assert "BJ3" not in exact
    part = _page(console, "/console/policies?q=欧阳")
    assert "BJ2" in part
    assert "BJ3" in part
    assert "BJ2" not in _page(console, "/console/policies?q=100%25")  # LIKE wildcards are taken literally


def test_another_branchs_policy_is_neither_found_nor_shown(console: FlaskClient) -> None:
    login(console, "王芳")
    for q in ("TJ1", "TJ", "钱进"):
        page = _page(console, f"/console/policies?q={q}")
        assert "TJ1" not in page.replace(f'value="{q}"', "")
        assert "没有找到符合条件的保单" in page
    assert console.get("/console/policies/TJ1").status_code == 404
    missing = console.get("/console/policies/NOSUCH")
    assert missing.status_code == 404
    assert "未找到" in missing.get_data(as_text=True)


def test_a_supervisor_finds_every_branch(console: FlaskClient) -> None:
    login(console, "张总")
    assert console.get("/console/policies?q=TJ1").headers["Location"] == "/console/policies/TJ1"
    page = _page(console, "/console/policies/TJ1")
    assert "钱进" in page
    assert "天津分公司" in page


def test_the_search_form_alone_without_a_query_and_pages_of_fifty(console: FlaskClient, session: Session,
                                                                   tmp_path: Path, settings: Settings,
                                                                   clock: FrozenClock) -> None:
    login(console, "王芳")
    empty = _page(console, "/console/policies")
    assert 'name="q"' in empty
    assert "<table" not in empty
    _more(session, tmp_path, settings, clock, [policy_row(policy_no=f"PG{n:03d}") for n in range(52)])
    first = _page(console, "/console/policies?q=PG")
    assert first.count('href="/console/policies/PG') == 50
    assert "下一页" in first
    second = _page(console, "/console/policies?q=PG&page=2")
    assert second.count('href="/console/policies/PG') == 2
    assert "PG051" in second
    assert "上一页" in second


def test_agents_and_the_signed_out_do_not_search_here(console: FlaskClient, session: Session,
                                                      settings: Settings) -> None:
    assert console.get("/console/policies?q=BJ1").headers["Location"].startswith("/console/login")
    add_user(session, operator_actor("root"), "李客服", PASSWORD, ["agent"], ["110100"], now=NOW,
             settings=settings.console, agent_line="+861088880000")
    session.commit()
    login(console, "李客服")
    assert console.get("/console/policies?q=BJ1").status_code == 403
    assert console.get("/console/policies/BJ1").status_code == 403
    nav = _page(console, "/console/agent")
    assert "转人工" in nav
    assert "保单查询" not in nav


def test_the_policy_page_masks_the_id_number_and_writes_money_and_dates(console: FlaskClient,
                                                                         engine: Engine) -> None:
    login(console, "王芳")
    page = _page(console, "/console/policies/BJ1")
    with Session(engine) as s:
        id_no = s.scalars(select(Policy.applicant_id_no).where(Policy.policy_no == "BJ1")).one()
    assert f"{id_no[:6]}********{id_no[-4:]}" in page
    assert id_no not in page
    assert "¥6,000.00" in page
    assert "赵敏" in page
    assert "张建国（A1001）" in page
    assert "个险" in page
    assert "2026-11-12" in page  # issued
    assert "2026-12-01" in page  # cooling-off end and the task's deadline
    assert "A 卷" in page
    assert "保单查询" in page  # the nav


def _a_call(engine: Engine) -> None:
    """BJ1's robot call an hour before the case was opened: identity keyed, a recognised "no" on coverage,
    classified a problem, recorded."""
    with Session(engine) as s, s.begin():
        policy = s.scalars(select(Policy).where(Policy.policy_no == "BJ1")).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        start = NOW - timedelta(hours=1)
        call = call_repo.create(s, call_sid="CA-BJ1", task_id=task.id, policy_id=policy.id, now=start)
        call.dialled_number, call.started_at, call.ended_at = "+8613700000001", start, start + timedelta(minutes=3)
        call.outcome, call.result_class = CallOutcome.COMPLETED, ResultClass.PROBLEM
        call.reason_codes = ["unclear_coverage"]
        call.end_reason = "completed"
        call_repo.add_events(s, call, start, [
            {"who": "robot", "kind": "prompt", "topic": "identity", "text": "请问您是赵敏女士本人吗？"},
            {"who": "caller", "kind": "answer", "topic": "identity", "detail": {"input": "digits", "digits": "1"}},
            {"who": "caller", "kind": "answer", "topic": "identity", "detail": {"input": "digits", "digits": "0517"}},
            {"who": "robot", "kind": "prompt", "topic": "understand_coverage", "text": "您是否了解保险责任？"},
            {"who": "caller", "kind": "answer", "topic": "understand_coverage", "text": "不太清楚",
             "detail": {"input": "no", "intent": "no", "confidence": 0.874}},
            {"who": "twilio", "kind": "status", "text": "completed"},
        ])
        s.add(Recording(recording_sid="RE-BJ1", call_id=call.id, status=RecordingStatus.STORED, source_url="x",
                        channels=1, created_at=start, updated_at=start))


def test_the_timeline_tells_the_story_oldest_first(console: FlaskClient, engine: Engine,
                                                   clock: FrozenClock) -> None:
    _a_call(engine)
    clock.set(NOW + timedelta(hours=2))  # the case was opened at NOW; handled two hours later
    login(console, "王芳")
    case_id = case_of("BJ1", engine)
    token = csrf(console, f"/console/cases/{case_id}")
    console.post(f"/console/cases/{case_id}/resolve", data={"csrf_token": token, "action": "surrendered",
                                                             "note": "客户犹豫期内退保", "version": "1"})
    page = _page(console, "/console/policies/BJ1")
    # the call: number, times in Beijing time, result and reasons in words, the transcript turn by turn
    assert "拨打号码 137 0000 0001" in page
    assert "开始 2026-11-25 09:00" in page
    assert "结束 2026-11-25 09:03" in page
    assert "问题件" in page
    assert "不清楚保险责任" in page
    assert "请问您是赵敏女士本人吗？" in page
    assert "按键 1" in page
    assert "按键 ****" in page  # the birthday keyed for the identity check is not shown
    assert "0517" not in page
    assert "识别为“不太清楚”，置信度 0.87" in page
    assert "问题项：了解保险责任" in page
    assert "通话录音 2026-11-25 09:00" in page  # the call's recording, with its player or why there is none
    # the case and its handling, linked to the case page
    assert f'href="/console/cases/{case_id}"' in page
    assert "方言件" in page
    assert "已撤销" in page
    assert "犹豫期内已退保" in page
    assert "处理人 王芳 · 客户犹豫期内退保" in page
    # oldest first: the call, then the case it led to, then its handling
    assert page.index("拨打号码") < page.index("生成工单") < page.index("犹豫期内已退保")


def test_an_open_case_on_the_timeline_shows_its_sla(console: FlaskClient) -> None:
    login(console, "王芳")
    page = _page(console, "/console/policies/BJ1")
    assert "待处理" in page
    assert "剩余 7 天" in page
    assert "BJ1 待处理" in page  # the case's detail


def test_the_case_page_and_the_queue_link_to_the_policy(console: FlaskClient, engine: Engine) -> None:
    login(console, "王芳")
    assert 'href="/console/policies/BJ1"' in _page(console, f"/console/cases/{case_of('BJ1', engine)}")
    assert 'href="/console/policies/BJ1"' in _page(console, "/console/cases")
