"""Recording a returned letter's (or a visit's) signed questionnaire: the paper answers go through the phone's
engine, classifier and result rules as an off-phone session; the work order is closed with the handling; the
scan is kept write-once with its SHA-256 beside the session; the visitor rule and a fake scan refuse it all."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cases.actions import ActionRefused, Refusal
from flows.classify import classify
from flows.model import EndReason, OnNo
from huifang.case_rules import CaseRules
from kit.actor import Actor, Role, operator_actor
from kit.vocab import CallbackChannel, CaseStatus, TaskStatus
from letters.replies import Problem, Recorded, Reply, ReplyRefused, paper_context, questionnaire, record
from letters.scans import ScanProblem, ScanRefused, sniff
from recordings.compliance import verify
from speech.cache import PromptCache
from storage.models import AuditEvent, Call, CallbackTask, Case, CaseEvent, EcallbackSnapshot, Policy
from tests.letters.reply_world import FAKE_PDF, JPEG, PDF, PNG, World, build_world, case_row

pytestmark = pytest.mark.db

BRANCH_USER = Actor("王芳", frozenset({Role.BRANCH}), frozenset({"110100"}))


@pytest.fixture
def world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> World:
    return build_world(engine, tmp_path, prompt_cache)


def _questions(world: World) -> tuple[str, list[str]]:
    svc = world.ivr.svc
    with world.ivr.session() as s:
        task = s.get(CallbackTask, world.ivr.task_id)
        assert task is not None
        policy = s.get(Policy, task.policy_id)
        assert policy is not None
        asked = questionnaire(s, paper_context(svc.calls), task, policy)
    return asked.flow, [q.step for q in asked.questions]


def _record(world: World, answers: dict[str, bool], *, visitor: str | None = None, scan: bytes = PDF) -> Recorded:
    svc = world.ivr.svc
    flow, _steps = _questions(world)
    reply = Reply(answers, date(2026, 11, 20), sniff(scan, 10), visitor=visitor, note="回执编号 R-1", flow=flow,
                  version=case_row(world).version_id)
    with world.ivr.session() as s:
        done = record(s, paper_context(svc.calls), BRANCH_USER, world.case_id, reply, files=svc.files,
                      rules=CaseRules(svc.settings, svc.calendar))
        s.commit()
    return done


def _counts(world: World) -> tuple[int, int, int, int]:
    with world.ivr.session() as s:
        return (s.scalar(select(func.count()).select_from(Call)) or 0,
                s.scalar(select(func.count()).select_from(EcallbackSnapshot)) or 0,
                s.scalar(select(func.count()).select_from(Case)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "scan")) or 0)


def test_all_yes_is_standard_through_the_engine_and_closes_the_letter_case(world: World) -> None:
    _flow, steps = _questions(world)
    assert len(steps) >= 3
    done = _record(world, dict.fromkeys(steps, True))
    assert (done.result_class, done.reason_codes) == ("standard", [])
    with world.ivr.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == done.call_sid)).one()
        task = s.get(CallbackTask, world.ivr.task_id)
        case = s.get(Case, world.case_id)
        assert task is not None
        assert case is not None
        assert call.channel is CallbackChannel.LETTER
        assert call.call_sid.startswith("LT")
        assert call.end_reason == EndReason.COMPLETED
        assert call.state is not None
        assert call.state["identity_verified"] is True
        assert len(call.state["answers"]) > len(steps) // 2
        assert set(call.state["answers"].values()) == {"yes"}
        assert (task.status, task.result_class) == (TaskStatus.COMPLETED, "standard")
        assert (case.status, case.resolution_action) == (CaseStatus.CLOSED, "signed_questionnaire")
        history = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                    CaseEvent.action == "signed_questionnaire")).one()
        assert history.who == "王芳"
        assert done.call_sid in history.note
        assert "回执编号 R-1" in history.note
        assert s.scalars(select(Case).where(Case.status == CaseStatus.OPEN)).all() == []
    assert done.snapshot.kind == "scan"
    assert done.snapshot.path.endswith(".pdf")


def test_one_no_is_a_problem_with_the_cases_a_phone_no_on_that_topic_opens(world: World) -> None:
    svc = world.ivr.svc
    _flow, steps = _questions(world)
    with world.ivr.session() as s:
        task = s.get(CallbackTask, world.ivr.task_id)
        policy = s.get(Policy, task.policy_id) if task else None
        assert task is not None
        assert policy is not None
        engine = svc.calls.engine(s, task, policy)
    explained = [st for st in engine.script() if st.step.id in steps and st.step.on_no is OnNo.EXPLAIN]
    assert explained, "the flow has a question a 否 is explained on"
    target = explained[0].step
    done = _record(world, {step: step != target.id for step in steps})
    assert target.topic is not None
    topic = target.topic.value
    # the phone: 否, the explanation, 否 again → unresolved, handed off, no agent → the next question; all else 是
    phone = classify({**{t.step.topic.value: "yes" for t in engine.script() if t.step.id in steps and t.step.topic},
                      "identity": "yes", topic: "unresolved"}, EndReason.COMPLETED, True)
    assert done.result_class == str(phone.result_class) == "problem"
    assert done.reason_codes == [str(code) for code in phone.reason_codes]
    with world.ivr.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == done.call_sid)).one()
        assert call.state is not None
        assert call.state["answers"][topic] == "unresolved"
        assert call.handoff_topic == topic
        opened = s.scalars(select(Case).where(Case.call_id == call.id)).all()
        letter = s.get(Case, world.case_id)
        assert letter is not None
        assert letter.status is CaseStatus.CLOSED
    assert sorted((str(c.type), c.reason) for c in opened) == sorted((str(c.type), str(c.reason)) for c in phone.cases)
    assert opened


def test_a_visit_by_the_policys_own_agent_is_refused_with_the_rule_named_and_nothing_changes(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    world = build_world(engine, tmp_path, prompt_cache, CallbackChannel.VISIT)
    _flow, steps = _questions(world)
    before = _counts(world)
    version = case_row(world).version_id
    for agent in ("A1001", "张建国"):
        with pytest.raises(ActionRefused) as refused:
            _record(world, dict.fromkeys(steps, True), visitor=agent)
        assert refused.value.code is Refusal.VISITOR_IS_AGENT
        assert "§14 rule 45" in str(refused.value)
    assert _counts(world) == before
    assert case_row(world).version_id == version
    assert case_row(world).status is CaseStatus.OPEN
    with world.ivr.session() as s:
        task = s.get(CallbackTask, world.ivr.task_id)
        assert task is not None
        assert task.status is TaskStatus.QUEUED
    done = _record(world, dict.fromkeys(steps, True), visitor="陈上门")
    assert done.call_sid.startswith("VS")
    assert done.result_class == "standard"
    with world.ivr.session() as s:
        history = s.scalars(select(CaseEvent).where(CaseEvent.case_id == world.case_id,
                                                    CaseEvent.action == "signed_questionnaire")).one()
        assert history.note.startswith("visitor 陈上门")


def test_a_fake_pdf_is_refused_by_its_content_and_real_scans_are_typed() -> None:
    with pytest.raises(ScanRefused) as refused:
        sniff(FAKE_PDF, 10)
    assert refused.value.problem is ScanProblem.TYPE
    assert [sniff(data, 10).media_type for data in (PDF, JPEG, PNG)] == ["application/pdf", "image/jpeg",
                                                                          "image/png"]
    with pytest.raises(ScanRefused) as large:
        sniff(PDF + b"\0" * (1024 * 1024), 1)
    assert large.value.problem is ScanProblem.TOO_LARGE
    with pytest.raises(ScanRefused) as empty:
        sniff(b"", 10)
    assert empty.value.problem is ScanProblem.MISSING


def test_the_scan_is_kept_write_once_with_its_sha256_and_verified(world: World) -> None:
    _flow, steps = _questions(world)
    done = _record(world, dict.fromkeys(steps, True), scan=PNG)
    svc = world.ivr.svc
    shot = done.snapshot
    assert shot.sha256 == hashlib.sha256(PNG).hexdigest()
    assert shot.size_bytes == len(PNG)
    assert svc.files.read(shot.path) == PNG
    assert shot.retain_until is not None
    with world.ivr.session() as s:
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "scan")).one()
        assert entry.operator == "王芳"
        assert shot.sha256 in entry.detail
        assert verify(s, svc.files, actor=operator_actor("root"), now=svc.clock.now()) == {
            "checked": 1, "missing": [], "altered": []}
    svc.files.local_path(shot.path).chmod(0o644)
    svc.files.local_path(shot.path).write_bytes(PNG + b"x")
    with world.ivr.session() as s:
        assert verify(s, svc.files, actor=operator_actor("root"), now=svc.clock.now())["altered"] == [shot.path]


def test_a_stale_form_and_a_missing_answer_are_refused(world: World) -> None:
    _flow, steps = _questions(world)
    with pytest.raises(ReplyRefused) as missing:
        _record(world, dict.fromkeys(steps[1:], True))
    assert missing.value.problem is Problem.ANSWER_MISSING
    assert missing.value.field == f"answer.{steps[0]}"
    assert _counts(world)[0] == 0


def test_a_form_built_from_another_questionnaire_is_refused(world: World) -> None:
    svc = world.ivr.svc
    _flow, steps = _questions(world)
    reply = Reply(dict.fromkeys(steps, True), date(2026, 11, 20), sniff(PDF, 10), flow="0" * 64)
    with world.ivr.session() as s, pytest.raises(ReplyRefused) as changed:
        record(s, paper_context(svc.calls), BRANCH_USER, world.case_id, reply, files=svc.files,
               rules=CaseRules(svc.settings, svc.calendar))
    assert changed.value.problem is Problem.FLOW_CHANGED
    assert _counts(world)[0] == 0
