"""Quality inspection on SQLite and PostgreSQL: sampling, reviews and their consequences, measures, the CLI."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from calls import service as calls
from calls.context import CallContext
from calls.inputs import Answered, Heard
from calls.review import apply_review
from flows.engine import CallerInput, InputKind, Turn
from flows.library import load_library
from intake.reader import open_table
from intake.service import PolicyIntake
from kit.actor import Actor, NotAllowed, Role
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallbackChannel, CaseStatus
from qa.measures import measures
from qa.queries import samples
from qa.reviews import AnswerMark, ReviewRefused, call_review_view, review_call
from qa.sampling import SampleSettings, draw
from storage.db import make_session_factory, units_of_work
from storage.models import Call, CallbackTask, CallEvent, Case, CaseEvent, Policy, QaSample
from storage.repositories import calls as call_repo
from tests.factories import policy_row, write_csv
from tests.huifang.test_cli import run, run_json

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)
OPERATOR = Actor.of("ops", [Role.OPERATOR])
QA = Actor.of("reviewer1", [Role.QA])
QA2 = Actor.of("supervisor1", [Role.SUPERVISOR])
SETTINGS = SampleSettings(call_rate=0.1, call_min=5, case_rate=0.1, case_min=5)


class Silent:
    """A channel that renders nothing."""

    def turn(self, turn: Turn, language: str, seq: int, call: object = None) -> str:
        return f"turn {seq}"

    def hangup(self) -> str:
        return "hangup"


class NoPrompts:
    def prepare(self, texts: object, language: str) -> int:
        return 0


def _import(engine: Engine, tmp_path: Path, rows: list[dict[str, str]]) -> sessionmaker[Session]:
    sessions = make_session_factory(engine)
    settings = Settings()
    PolicyIntake(units_of_work(sessions), settings=settings, calendar=BusinessCalendar(settings.calendar),
                 clock=FrozenClock(NOW)).run(open_table(write_csv(tmp_path / "p.csv", rows)))
    return sessions


MIX = {("110100", "standard", "phone"): 60, ("110100", "problem", "phone"): 30,
       ("110100", "standard", "ecallback"): 10, ("370100", "standard", "phone"): 4}


@pytest.fixture
def month(engine: Engine, tmp_path: Path) -> sessionmaker[Session]:
    """A synthetic November: 100 finished callbacks in branch 110100 (60 standard by phone, 30 problem by phone,
    10 standard by e-callback), 4 in 370100, and one finished in October (not November's)."""
    rows = [policy_row(branch_code="110100"), policy_row(branch_code="370100", branch_name="济南分公司")]
    sessions = _import(engine, tmp_path, rows)
    with sessions() as s:
        tasks = {s.get(Policy, t.policy_id).branch_id: t for t in s.scalars(select(CallbackTask))}  # type: ignore[union-attr]
        codes = {p.branch_id: code for p, code in zip(s.scalars(select(Policy).order_by(Policy.id)),
                                                     ["110100", "370100"], strict=True)}
        by_code = {code: tasks[b] for b, code in codes.items()}
        n = 0
        for (code, result, channel), count in MIX.items():
            for _ in range(count):
                n += 1
                task = by_code[code]
                call = call_repo.create(s, call_sid=f"CA{n:05d}", task_id=task.id, policy_id=task.policy_id, now=NOW)
                call.result_class, call.channel = result, CallbackChannel(channel)  # type: ignore[assignment]
                call.finished_at = NOW - timedelta(days=n % 20)
        old = call_repo.create(s, call_sid="CA-oct", task_id=by_code["110100"].id,
                               policy_id=by_code["110100"].policy_id, now=NOW)
        old.result_class, old.finished_at = "standard", datetime(2026, 10, 30, 12, tzinfo=BUSINESS_TZ)  # type: ignore[assignment]
        s.commit()
    return sessions


def _drawn(session: Session) -> list[QaSample]:
    return list(session.scalars(select(QaSample).order_by(QaSample.call_id)))


def test_a_draw_is_stratified_and_reproducible_with_its_seed(month: sessionmaker[Session]) -> None:
    with month() as s:
        summary = draw(s, OPERATOR, "2026-11", SETTINGS, seed="s1", now=NOW)
        assert summary.to_json() == {"period": "2026-11", "calls": 14, "cases": 0,
                                     "by_branch": {"110100": {"calls": 10, "cases": 0},
                                                   "370100": {"calls": 4, "cases": 0}}}
        first = _drawn(s)
        # proportional allocation in 110100 (10 of 100): 6 / 3 / 1; 370100 had fewer than call_min: all 4
        assert Counter((x.branch_id, x.stratum) for x in first) == Counter(
            {(1, "standard/phone"): 6, (1, "problem/phone"): 3, (1, "standard/ecallback"): 1,
             (2, "standard/phone"): 4})
        calls = {c.id: c for c in s.scalars(select(Call))}
        assert all(calls[x.call_id].call_sid != "CA-oct" for x in first if x.call_id)
        first_ids = [x.call_id for x in first]
        s.rollback()
        draw(s, OPERATOR, "2026-11", SETTINGS, seed="s1", now=NOW)
        assert [x.call_id for x in _drawn(s)] == first_ids
        s.rollback()
        draw(s, OPERATOR, "2026-11", SETTINGS, seed="s2", now=NOW)
        assert [x.call_id for x in _drawn(s)] != first_ids
        s.rollback()


def test_a_call_is_never_drawn_twice(month: sessionmaker[Session]) -> None:
    with month() as s:
        draw(s, OPERATOR, "2026-11", SETTINGS, seed="s1", now=NOW)
        s.commit()
        first = {x.call_id for x in _drawn(s)}
        again = draw(s, OPERATOR, "2026-11", SETTINGS, seed="s1", now=NOW)
        s.commit()
        second = {x.call_id for x in _drawn(s)} - first
        assert again.to_json()["by_branch"] == {"110100": {"calls": 9, "cases": 0}}  # 90 left: 9; 370100: none left
        assert len(second) == 9
        with pytest.raises(NotAllowed):
            draw(s, QA, "2026-11", SETTINGS, seed="s1", now=NOW)


# -- a real call, reviewed ----------------------------------------------------------------------


@pytest.fixture
def called(engine: Engine, tmp_path: Path) -> tuple[sessionmaker[Session], CallContext, int]:
    """A phone call answered with keys, every question yes: standard."""
    sessions = _import(engine, tmp_path, [policy_row()])
    settings = Settings()
    clock = FrozenClock(NOW)
    ctx = CallContext(settings, clock, BusinessCalendar(settings.calendar), load_library(), Silent(), NoPrompts())
    with sessions() as s:
        task = s.scalars(select(CallbackTask)).one()
        call = call_repo.create(s, call_sid="CA-q1", task_id=task.id, policy_id=task.policy_id, now=NOW)
        s.commit()
        calls.start(s, ctx, Answered("CA-q1", task.id, "human"))
        s.commit()
        seq, inputs = 1, ["1", "0517"]
        while call.end_reason is None and seq < 60:
            keys = inputs.pop(0) if inputs else "1"
            clock.advance(timedelta(seconds=7))
            calls.advance(s, ctx, "CA-q1", seq, Heard(CallerInput(InputKind.DIGITS, digits=keys), {"model": "vosk-cn"}))
            s.commit()
            s.refresh(call)
            seq += 1
        assert call.result_class == "standard"
        call.answered_at = NOW
        s.commit()
        return sessions, ctx, call.id


def _explain_answer(s: Session, call_id: int) -> CallEvent:
    """The first answer on a topic whose "no" is explained (understand_coverage-like topics)."""
    explained = {"read_documents", "understand_coverage", "understand_surrender_loss", "cooling_off_rights",
                 "payment_terms", "benefit_uncertainty", "health_waiting_period", "truthful_disclosure"}
    return next(e for e in call_repo.events(s, call_id) if e.kind == "answer" and e.topic in explained)


def test_a_review_that_hears_a_no_reclassifies_and_opens_the_case(
        called: tuple[sessionmaker[Session], CallContext, int]) -> None:
    sessions, ctx, call_id = called
    with sessions() as s:
        draw(s, OPERATOR, "2026-11", SETTINGS, seed="x", now=NOW)
        s.commit()
        [sample] = _drawn(s)
        view = call_review_view(s, QA, sample.id)
        assert view.answers
        assert all(a.model == "vosk-cn" for a in view.answers)
        assert view.answers[0].offset_s == pytest.approx((view.answers[0].seq and 7.0), abs=1e3)
        target = _explain_answer(s, call_id)
        others = [a.seq for a in view.answers if a.seq != target.seq and a.topic != "identity"][:2]
        marks = [AnswerMark(target.seq, False, "no"), *(AnswerMark(seq, True) for seq in others)]
        with pytest.raises(ReviewRefused, match="此抽样已被他人更新"):
            review_call(s, ctx, QA, sample.id, marks, False, "客户说没听懂", version=sample.version_id + 1)
        review = review_call(s, ctx, QA, sample.id, marks, False, "客户说没听懂", version=sample.version_id)
        s.commit()
        assert (review.opinion, review.result_before, review.result_after) == ("first", "standard", "problem")
        call = s.get(Call, call_id)
        assert call is not None
        assert call.result_class == "problem"
        task = s.get(CallbackTask, call.task_id)
        assert task is not None
        assert task.result_class == "problem"
        [case] = s.scalars(select(Case).where(Case.call_id == call_id)).all()
        assert case.status is CaseStatus.OPEN
        assert [e.action for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))] == ["opened"]
        [event] = [e for e in call_repo.events(s, call_id) if e.kind == "review"]
        assert (event.who, event.text) == ("qa", "质检复核：reviewer1：客户说没听懂")
        assert event.detail["after"] == "problem"
        # a second reviewer: a second opinion, nothing re-classified; the same reviewer again: refused
        s.refresh(sample)
        second = review_call(s, ctx, QA2, sample.id, [AnswerMark(target.seq, True)], True, "我听是对的",
                             version=sample.version_id)
        assert (second.opinion, second.result_after) == ("second", None)
        assert s.get(Call, call_id).result_class == "problem"  # type: ignore[union-attr]
        with pytest.raises(ReviewRefused, match="已复核"):
            review_call(s, ctx, QA, sample.id, [], True, "", version=sample.version_id)
        s.commit()
        # measures count the first opinion only: 1 wrong (heard yes, was no) of 3 marked
        m = measures(s, QA, "2026-11").to_json()
        assert (m["reviewed_answers"], m["answer_accuracy"], m["false_yes"], m["false_no"]) == (3, 0.6667, 1, 0)
        assert (m["reviewed_calls"], m["classification_accuracy"]) == (1, 0.0)
        assert [r["key"] for r in m["by_model"]] == ["vosk-cn"]
        assert {r["key"]: (r["marked"], r["right"]) for r in m["by_topic"]}[str(target.topic)] == (1, 0)
        assert m["by_channel"] == [{"key": "phone", "marked": 3, "right": 2, "accuracy": 0.6667, "false_yes": 1,
                                    "false_no": 0}]
        page = samples(s, QA, period="2026-11", kind="call", status="reviewed", branch=None, page=1)
        assert [(r.id, r.reviews, r.result_class) for r in page.items] == [(sample.id, 2, "problem")]
        assert samples(s, QA, period="2026-11", kind=None, status="pending", branch=None, page=1).total == 0
        # flipping back (the same path): the case the problem needed is closed
        apply_review(s, ctx, call_id, {target.seq: "yes"}, reviewer="reviewer1", remarks="更正", now=NOW)
        s.commit()
        assert s.get(Call, call_id).result_class == "standard"  # type: ignore[union-attr]
        assert s.get(Case, case.id).status is CaseStatus.CLOSED  # type: ignore[union-attr]


def test_a_branch_user_may_not_review_or_read(called: tuple[sessionmaker[Session], CallContext, int]) -> None:
    sessions, ctx, _ = called
    branch = Actor.of("b1", [Role.BRANCH], ["110100"])
    with sessions() as s:
        draw(s, OPERATOR, "2026-11", SETTINGS, seed="x", now=NOW)
        [sample] = _drawn(s)
        with pytest.raises(NotAllowed):
            review_call(s, ctx, branch, sample.id, [], True, "", version=sample.version_id)
        with pytest.raises(NotAllowed):
            call_review_view(s, branch, sample.id)
        with pytest.raises(NotAllowed):
            samples(s, branch, period=None, kind=None, status=None, branch=None, page=1)
        with pytest.raises(NotAllowed):
            measures(s, branch, "2026-11")


def test_the_cli_prints_the_documented_json(db_url: str, tmp_path: Path) -> None:
    run(db_url, "db", "upgrade")
    run_json(db_url, "import", str(write_csv(tmp_path / "p.csv", [policy_row()])))
    drawn = run_json(db_url, "qa", "sample", "--period", "2026-11", "--rate", "0.2", "--min", "3", "--seed", "a")
    assert drawn == {"period": "2026-11", "calls": 0, "cases": 0, "by_branch": {}}
    report = run_json(db_url, "report", "qa", "--period", "2026-11", "--xlsx", str(tmp_path / "qa.xlsx"))
    assert set(report) == {"period", "answer_accuracy", "false_yes", "false_no", "classification_accuracy",
                           "reviewed_answers", "reviewed_calls", "by_topic", "by_language", "by_model",
                           "by_channel", "case_scores"}
    assert (report["answer_accuracy"], report["false_yes"], report["by_topic"]) == (None, 0, [])
    assert (tmp_path / "qa.xlsx").stat().st_size > 0
