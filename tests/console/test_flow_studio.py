"""The flow studio (console/flows): the flow list with `flows check` errors, the diagram drawn from the flow
definition, the prompts' audio, and a simulated call through the pages that writes nothing to the campaign."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from accounts.service import add_user
from calls.results import cases_needed
from console.context import ConsoleContext
from console.flows import diagram
from console.flows.samples import template_zh
from console.labels import END_REASON_ZH
from flows.classify import classify
from flows.engine import Answer
from flows.library import SHIPPED, load_library
from flows.model import EndReason, OnNo, StepKind
from flows.vocab import CaseType
from ivr.harness.media import SilentRenderer
from kit.actor import operator_actor
from kit.settings import Settings
from speech.cache import PromptCache
from storage.models import Call, CallbackTask, CallEvent, Case
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, csrf, login

SVG = re.compile(r"<svg .*?</svg>", re.S)


@pytest.fixture
def studio(console_app: Flask, session: Session, settings: Settings, tmp_path: Path) -> Flask:
    """The console fixture with an administrator (管理员) and the prompt cache (silent "speech")."""
    add_user(session, operator_actor("root"), "管理员", PASSWORD, ["admin"], [], now=NOW, settings=settings.console)
    session.commit()
    ctx: ConsoleContext = console_app.extensions["huifang.console"]
    ctx.prompts = PromptCache(tmp_path / "prompts", SilentRenderer(), secret=b"s" * 32)
    return console_app


def _client(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client


def _texts(g: ET.Element, part: str) -> list[str]:
    return ["".join(t.itertext()) for t in g.iter("{http://www.w3.org/2000/svg}text") if t.get("data-part") == part]


def _boxes(svg: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(svg)
    return {(g.get("data-node", ""), g.get("data-step", "")): g
            for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-node")}


def _check_diagram(svg: str, flow_id: str) -> None:
    """Every step of the flow is a box with its id and its words, and every "no" leads where the step says."""
    library = load_library(SHIPPED)
    flow = library.flows[flow_id]
    boxes = _boxes(svg)
    for step in flow.steps:
        box = boxes[("step", step.id)]
        assert _texts(box, "id")[0].startswith(step.id)
        assert _texts(box, "body") == [template_zh(step.text)], step.id
        if step.kind is StepKind.ASK and step.on_no is OnNo.EXPLAIN:
            assert _texts(boxes[("explain", step.id)], "body") == [template_zh(step.explain or "")]
            assert ("reask", step.id) in boxes
            assert ("handoff", step.id) in boxes
        elif step.on_no is OnNo.END:
            assert step.end_reason is not None
            assert _texts(boxes[("end", step.id)], "title") == ["结束：" + END_REASON_ZH[step.end_reason.value]]
        if step.kind is StepKind.VERIFY_BIRTHDAY:
            assert _texts(boxes[("end", step.id)], "title") == ["结束：身份核实不通过"]
    steps_drawn = {key[1] for key in boxes if key[0] == "step"}
    assert steps_drawn == {s.id for s in flow.steps}
    assert _texts(boxes[("completed", "")], "title") == ["结束：问卷完成"]


@pytest.mark.parametrize("flow_id", sorted(load_library(SHIPPED).flows))
def test_the_diagram_draws_every_step_of_every_shipped_flow(flow_id: str) -> None:
    library = load_library(SHIPPED)
    flow = library.flows[flow_id]
    _check_diagram(diagram.render(flow, library.messages[flow.language]), flow_id)


def test_long_words_wrap_inside_their_box_and_punctuation_never_starts_a_line() -> None:
    lines = diagram.wrap("保险责任是指发生合同约定的保险事故时我公司承担的给付责任，责任免除是指。", 14 * 10)
    assert all(diagram.text_width(line) <= 14 * 11 for line in lines)
    assert "".join(lines) == "保险责任是指发生合同约定的保险事故时我公司承担的给付责任，责任免除是指。"
    assert not any(line.startswith(("，", "。")) for line in lines)


def test_the_studio_is_for_supervisors_and_administrators(studio: Flask) -> None:
    for user in ("张总", "管理员"):
        client = _client(studio, user)
        page = client.get("/console/flows").get_data(as_text=True)
        assert "流程工作室" in page
        assert client.get("/console/flows/traditional").status_code == 200
        assert client.get("/console/flows/traditional/simulate").status_code == 200
    branch = _client(studio, "王芳")
    assert "流程工作室" not in branch.get("/console/cases").get_data(as_text=True)  # no link in the menu
    for path in ("/console/flows", "/console/flows/traditional", "/console/flows/traditional/simulate"):
        assert branch.get(path).status_code == 403
    anonymous = studio.test_client().get("/console/flows")
    assert anonymous.status_code == 302
    assert "/console/login" in anonymous.headers["Location"]
    assert _client(studio, "张总").get("/console/flows/no_such_flow").status_code == 404


def test_the_list_shows_every_flow_with_version_and_content_hash(studio: Flask) -> None:
    page = _client(studio, "张总").get("/console/flows").get_data(as_text=True)
    library = load_library(SHIPPED)
    for flow in library.flows.values():
        assert f"<code>{flow.id}</code>" in page
        assert flow.title in page
        assert f'title="{flow.content_hash}"' in page
    assert "全部流程检查通过" in page
    assert "cooling_off_rights：仅当问卷版本为A 版（犹豫期内）" in page


def test_flows_check_errors_are_shown_with_file_and_line(studio: Flask, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(SHIPPED, flows)
    (flows / "modules" / "closing.yaml").write_text("module: closing\nsteps:\n  - id: goodbye\n    say: [再见\n",
                                                    encoding="utf-8")
    ctx: ConsoleContext = studio.extensions["huifang.console"]
    ctx.settings = replace(ctx.settings, questionnaire=replace(ctx.settings.questionnaire, flows_path=str(flows)))
    expected = load_library(flows).errors
    assert any(e.file == "modules/closing.yaml" for e in expected)
    page = _client(studio, "张总").get("/console/flows").get_data(as_text=True)
    assert f"发现 {len(expected)} 处错误" in page
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(\d+)</td><td class=\"detail\">([^<]*)</td></tr>", page)
    assert [(f, int(n)) for f, n, _ in rows] == [(e.file, e.line) for e in expected]
    closing = next(e for e in expected if e.file == "modules/closing.yaml")
    assert closing.message.startswith("YAML syntax")
    assert closing.line == 5


def test_the_flow_page_shows_the_diagram_and_plays_every_prompt(studio: Flask) -> None:
    client = _client(studio, "张总")
    page = client.get("/console/flows/participating").get_data(as_text=True)
    found = SVG.search(page)
    assert found is not None
    _check_diagram(found.group(0), "participating")
    urls = re.findall(r'data-audio="([^"]+)"', page)
    flow = load_library(SHIPPED).flows["participating"]
    texts = {s.text for s in flow.steps} | {s.explain for s in flow.steps if s.explain}
    assert len(urls) >= len(texts)
    assert "〔投保人姓名〕" in page  # a template shows its placeholders as words
    audio = client.get(urls[0])
    assert audio.status_code == 200
    assert audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF"
    assert client.get(urls[0].rsplit("/", 1)[0] + "/" + "0" * 64).status_code == 404  # no other file of the cache


def _counts(engine: Engine) -> tuple[int, ...]:
    with Session(engine) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0 for t in (Call, CallbackTask, CallEvent, Case))


def _answer(client: FlaskClient, path: str, **form: str) -> str:
    reply = client.post(f"{path}/answer", data={"csrf_token": csrf(client, path), **form})
    assert reply.status_code == 302
    return client.get(path).get_data(as_text=True)


def test_a_simulated_call_reaches_its_result_and_cases_and_writes_nothing(studio: Flask, engine: Engine) -> None:
    """Traditional flow, synthetic sample (个险, 45, annual, variant A): everything yes but the documents, where
    a no, the explanation and a no again hand the call to a person; no agent is free, the robot goes on: the
    result is a problem with suspected mis-selling and unclear coverage, and a first explanation case."""
    before = _counts(engine)
    client = _client(studio, "张总")
    path = "/console/flows/traditional/simulate"
    start = client.post(path, data={"csrf_token": csrf(client, path), "variant": "A", "channel": "agency",
                                    "age": "45", "payment_frequency": "annual", "insured_is_applicant": "yes",
                                    "dual_recorded": "no", "policy_no": ""})
    assert start.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "请问您是李明先生本人吗" in page
    page = _answer(client, path, input="yes")
    page = _answer(client, path, input="keys", keys="0315")
    assert "感谢您" in page
    for _ in range(5):  # purchase_confirm, policy_received, receipt_signed, signed_in_person, truthful_disclosure
        page = _answer(client, path, input="yes")
    assert "阅读了保险条款" in page
    page = _answer(client, path, input="no")
    assert "请问您现在清楚了吗" in page
    page = _answer(client, path, input="no")
    assert "坐席未接通" in page
    page = _answer(client, path, input="yes")  # a voice answer during the hand-off: refused, nothing changes
    assert "正在转接人工" in page
    page = _answer(client, path, input="agent_unavailable")
    for _ in range(5):  # understand_coverage, payment_regular, surrender_loss, cooling_off_rights, satisfaction
        assert "回访结果" not in page
        page = _answer(client, path, input="yes")
    result = page.split('aria-label="回访结果"', 1)[1]
    assert "问题件" in result
    reasons = re.findall(r'<span class="tag reason">([^<]+)</span>', result)
    assert reasons == ["疑似误导", "不清楚保险责任/责任免除"]
    cases = re.search(r'<ul class="cases"[^>]*>(.*?)</ul>', result, re.S)
    assert cases is not None
    assert re.findall(r"<li>([^<]+)</li>", cases.group(1)) == ["一次沟通解释件（不清楚保险责任/责任免除；问题项：阅读条款及说明书）"]
    assert _counts(engine) == before  # no call, task, event or case written


def test_the_simulator_takes_a_policy_the_user_may_see_and_not_another(studio: Flask, engine: Engine) -> None:
    client = _client(studio, "张总")
    path = "/console/flows/traditional/simulate"
    reply = client.post(path, data={"csrf_token": csrf(client, path), "variant": "B", "policy_no": "BJ1"})
    assert reply.status_code == 302
    assert "请问您是赵敏" in client.get(path).get_data(as_text=True)
    admin = _client(studio, "管理员")  # an administrator sees no branch's policies
    reply = admin.post(path, data={"csrf_token": csrf(admin, path), "variant": "A", "policy_no": "BJ1"})
    assert reply.status_code == 404
    assert admin.post(path, data={"csrf_token": csrf(admin, path), "policy_no": "NOPE"}).status_code == 404


def test_the_cases_a_result_needs_are_second_explanations_on_a_confirming_callback() -> None:
    result = classify({"identity": Answer.YES, "understand_coverage": Answer.UNRESOLVED}, EndReason.COMPLETED, True)
    assert [c.type for c in cases_needed(result)] == [CaseType.FIRST_EXPLANATION_CASE]
    assert [c.type for c in cases_needed(result, confirming=True)] == [CaseType.SECOND_EXPLANATION_CASE]
    retry = classify({}, EndReason.HANGUP, False)
    assert cases_needed(retry, confirming=True) == ()
