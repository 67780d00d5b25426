"""The agent desk through Flask's test client, on the served app (webhooks + console): a real hand-off made
through Twilio's webhooks lands on the desk of the agent whose line it rang (users.agent_line =
calls.handoff_target) and in whose branches the policy is; the outcome form finishes the classification with
the same service as the token link, which keeps working beside it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from accounts.service import add_user
from console.app import mount_console
from console.context import ConsoleContext
from flows.vocab import CaseType, ResultClass
from kit.actor import operator_actor
from kit.vocab import AgentOutcome, CaseStatus
from speech.cache import PromptCache
from storage import migrate
from storage.models import Branch, Call
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, csrf, login
from tests.ivr.conftest import Ivr, build_ivr, sid

LINE = "+861088880000"  # build_ivr's ivr.agent_target
CA1 = sid("CA1")  # the call the test IVR places


@pytest.fixture
def served(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    """The app `huifang serve` runs: the webhooks with the console mounted on them, sharing the call rules."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True)
    svc = ivr.svc
    mount_console(ivr.app, ConsoleContext(svc.settings, ivr.clock, svc.calendar, svc.sessions, calls=svc.calls),
                  "k" * 40, https=False)
    with ivr.session() as s:
        s.add(Branch(code="120100", name="天津分公司", created_at=NOW))
        s.flush()
        root = operator_actor("root")
        for name, branches, line in (("李客服", ["110100"], LINE), ("陈客服", ["110100"], "+861088889999"),
                                     ("赵客服", ["120100"], LINE), ("孙客服", ["110100"], None)):
            add_user(s, root, name, PASSWORD, ["agent"], branches, now=NOW, settings=svc.settings.console,
                     agent_line=line)
        add_user(s, root, "王芳", PASSWORD, ["branch"], ["110100"], now=NOW, settings=svc.settings.console)
        s.commit()
    with ivr.http:
        yield ivr


def _hand_off(ivr: Ivr) -> None:
    """The caller answers one question, then presses 0: the robot dials the agent line."""
    ivr.run_to_question()
    ivr.turn(digits="1")
    assert "Dial" in ivr.turn(digits="0").get_data(as_text=True)


def _connected(ivr: Ivr) -> None:
    """The agent picked up and the transfer ended: the flow ends, classified a problem until the agent says."""
    ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}", ivr.params("CA1", DialCallStatus="completed"))


def _agent(ivr: Ivr, name: str) -> FlaskClient:
    client = ivr.app.test_client()
    login(client, name)
    return client


def test_the_hand_off_rings_a_line_and_the_call_remembers_it(served: Ivr) -> None:
    _hand_off(served)
    call = served.call()
    assert call.handoff_target == LINE
    assert call.handoff_topic is not None


def test_the_agent_sees_the_call_handed_to_their_line_while_it_is_on(served: Ivr) -> None:
    _hand_off(served)
    desk = _agent(served, "李客服")
    page = desk.get("/console/agent").get_data(as_text=True)
    assert f"坐席线路：{LINE}" in page
    on_now, earlier = page.split("今天早些时候")
    assert f'href="/console/agent/calls/{CA1}"' in on_now
    assert served.policy_no in on_now
    assert "赵敏" in on_now
    assert "客户要求人工" in on_now
    assert "待填写" in on_now
    assert CA1 not in earlier
    served.status("CA1", "completed")  # the call ended: it moves down to earlier today
    on_now, earlier = desk.get("/console/agent").get_data(as_text=True).split("今天早些时候")
    assert CA1 not in on_now
    assert f'href="/console/agent/calls/{CA1}"' in earlier
    with served.session() as s, s.begin():  # the same call, yesterday: not today's, but its outcome is owed
        s.scalars(select(Call).where(Call.call_sid == CA1)).one().created_at = NOW - timedelta(days=1)
    page = desk.get("/console/agent").get_data(as_text=True)
    today, owed = page.split("以前的转接，尚未填写处理结果（1）")
    assert CA1 not in today
    assert f'href="/console/agent/calls/{CA1}"' in owed
    with served.session() as s, s.begin():  # once the outcome is given, yesterday's call leaves the desk
        s.scalars(select(Call).where(Call.call_sid == CA1)).one().agent_outcome = AgentOutcome.CLARIFIED
    page = desk.get("/console/agent").get_data(as_text=True)
    assert CA1 not in page
    assert "尚未填写处理结果" not in page


def test_the_context_page_shows_the_policy_the_answers_and_the_topic(served: Ivr) -> None:
    _hand_off(served)
    page = _agent(served, "李客服").get(f"/console/agent/calls/{CA1}").get_data(as_text=True)
    call = served.call()
    assert call.state is not None
    first_topic = next(t for t in call.state["answers"] if t != "identity")
    assert served.policy_no in page
    assert "鑫福年年终身寿险" in page
    assert "¥6,000.00" in page
    assert "110105" in page  # the masked ID number: its region …
    assert "********" in page  # … and nothing of the birth date
    assert "需要解释的问题项" in page
    assert "要求人工解释" in page  # the answer on the topic the caller stumbled on
    assert "身份确认" in page
    assert first_topic not in page  # topics are shown in words, not codes
    assert "通话中" in page
    assert "好的，正在为您转接人工客服，请稍候。" in page  # the transcript
    assert "按键 ****" in page  # the birthday keyed for identity stays hidden
    assert 'name="outcome" value="clarified"' in page


def test_a_call_handed_to_another_agent_or_another_branch_is_not_found(served: Ivr) -> None:
    _hand_off(served)
    for name in ("陈客服", "赵客服", "孙客服"):  # another line; the same line in another branch; no line
        desk = _agent(served, name)
        assert CA1 not in desk.get("/console/agent").get_data(as_text=True)
        assert desk.get(f"/console/agent/calls/{CA1}").status_code == 404
        token = csrf(desk, "/console/login")
        refused = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "clarified"})
        assert refused.status_code == 404
    assert served.call().agent_outcome is None
    unlinked = _agent(served, "孙客服").get("/console/agent").get_data(as_text=True)
    assert "尚未关联坐席线路" in unlinked
    assert _agent(served, "李客服").get("/console/agent/calls/CA-NOSUCH").status_code == 404


def test_the_outcome_form_finishes_the_classification_with_the_same_service(served: Ivr) -> None:
    _hand_off(served)
    _connected(served)
    assert served.call().result_class is ResultClass.PROBLEM
    assert [c.type for c in served.cases()] == [CaseType.CONTRACT_QUALITY_CASE]
    desk = _agent(served, "李客服")
    token = csrf(desk, f"/console/agent/calls/{CA1}")
    done = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "clarified",
                                                                "note": "已向客户解释保险责任"})
    assert done.status_code == 302
    assert done.headers["Location"] == f"/console/agent/calls/{CA1}"
    after = served.call()
    assert after.agent_outcome is AgentOutcome.CLARIFIED
    assert after.result_class is not ResultClass.PROBLEM
    assert [c.status for c in served.cases()] == [CaseStatus.CLOSED]
    assert served.task().result_class is after.result_class
    outcome = [e for e in served.events() if e.kind == "outcome"]
    assert [(e.who, e.text, e.detail["outcome"]) for e in outcome] == [("agent", "已向客户解释保险责任", "clarified")]
    page = desk.get(f"/console/agent/calls/{CA1}").get_data(as_text=True)
    assert "已提交：已解释清楚；回访结果：" in page
    assert "坐席处理结果：<strong>已解释清楚</strong>（已向客户解释保险责任）" in page
    again = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "clarified"})
    assert again.status_code == 302
    assert len([e for e in served.events() if e.kind == "outcome"]) == 1  # the same word again changes nothing


def test_an_outcome_given_during_the_call_counts_when_it_ends(served: Ivr) -> None:
    _hand_off(served)
    desk = _agent(served, "李客服")
    token = csrf(desk, f"/console/agent/calls/{CA1}")
    desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "not_clarified"})
    assert "通话结束后将据此判定回访结果" in desk.get(f"/console/agent/calls/{CA1}").get_data(as_text=True)
    _connected(served)
    assert served.call().agent_outcome is AgentOutcome.NOT_CLARIFIED
    assert served.call().result_class is ResultClass.PROBLEM
    assert [c.status for c in served.cases()] == [CaseStatus.OPEN]


def test_a_form_with_errors_comes_back_in_chinese_with_the_input(served: Ivr) -> None:
    _hand_off(served)
    desk = _agent(served, "李客服")
    token = csrf(desk, f"/console/agent/calls/{CA1}")
    reply = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "note": "客户说稍后再打"})
    assert reply.status_code == 400
    page = reply.get_data(as_text=True)
    assert "请选择处理结果：已解释清楚或未解释清楚" in page
    assert ">客户说稍后再打</textarea>" in page
    long = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "clarified",
                                                                "note": "长" * 501})
    assert long.status_code == 400
    assert "备注最多 500 字" in long.get_data(as_text=True)
    assert 'value="clarified" checked' in long.get_data(as_text=True)
    assert served.call().agent_outcome is None


def test_the_outcome_form_needs_the_csrf_token(served: Ivr) -> None:
    _hand_off(served)
    desk = _agent(served, "李客服")
    refused = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"outcome": "clarified"})
    assert refused.status_code == 400
    assert "请求无效" in refused.get_data(as_text=True)
    assert served.call().agent_outcome is None


def test_only_agents_use_the_desk(served: Ivr) -> None:
    assert served.app.test_client().get("/console/agent").headers["Location"].startswith("/console/login")
    branch = _agent(served, "王芳")
    assert branch.get("/console/agent").status_code == 403
    nav = branch.get("/console/cases").get_data(as_text=True)
    assert "保单查询" in nav
    assert 'href="/console/agent"' not in nav


def test_the_agents_link_still_works_beside_the_desk_and_both_keep_the_outcome_final(served: Ivr) -> None:
    _hand_off(served)
    _connected(served)
    _browser, page = served.agent_page()
    assert page.status_code == 200
    assert served.policy_no in page.get_data(as_text=True)
    assert served.client.get(f"/agent/calls/{CA1}").status_code == 403
    assert served.agent_outcome("not_clarified").status_code == 200
    assert served.call().agent_outcome is AgentOutcome.NOT_CLARIFIED
    desk = _agent(served, "李客服")
    shown = desk.get("/console/agent").get_data(as_text=True)
    assert "未解释清楚" in shown  # the desk shows the word given through the link
    token = csrf(desk, f"/console/agent/calls/{CA1}")
    flipped = desk.post(f"/console/agent/calls/{CA1}/outcome", data={"csrf_token": token, "outcome": "clarified"})
    assert flipped.status_code == 400
    assert "处理结果已确定" in flipped.get_data(as_text=True)  # the same rule as the link's (calls.service)
    assert served.call().agent_outcome is AgentOutcome.NOT_CLARIFIED


def test_the_served_app_takes_twilios_webhooks_without_a_csrf_token(served: Ivr) -> None:
    """Mounting the console must not put its CSRF check on Twilio's webhooks or the token link (they carry no
    such token; the signature and the link's token protect them), while every console POST still needs it."""
    served.answer_call()  # a signed webhook with no CSRF token: taken
    assert served.call().turn_seq > 0
    assert served.client.post("/console/logout").status_code == 400


def test_calls_handed_off_before_migration_0011_get_their_line_from_the_record(served: Ivr, engine: Engine) -> None:
    _hand_off(served)
    with engine.begin() as conn:  # back to before the column existed (the call's events stay) …
        config = migrate.alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    migrate.upgrade(engine)  # … and up again: the line comes from the hand-off event's detail
    assert served.call().handoff_target == LINE
