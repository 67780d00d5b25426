"""Callback letters: which letter cases a branch prints on a day, what a letter says (the flow the robot runs for
the policy, rendered by the flow engine), and the PDF (its text, its embedded Chinese fonts, its QR code's
words), through `huifang letters render` as docs/interfaces.md promises."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.switch import move
from flows.engine import FlowEngine, Scripted
from flows.library import load_library
from flows.model import StepKind
from kit.actor import Actor, NotAllowed, Role, operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallbackChannel, CaseStatus
from letters.batch import LetterCase, LettersRefused, letter_cases
from letters.code import BadLetterCode, letter_code, read_letter_code
from letters.content import build_letter
from storage.models import CallbackTask, Case, Policy
from tests.factories import policy_row
from tests.huifang.test_cli import run
from tests.intake.test_service import make

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)
OPERATOR = operator_actor("张经理")


def test_a_letter_code_names_its_policy_and_case_and_a_misread_is_caught() -> None:
    code = letter_code("P2026000002", 9)
    assert re.fullmatch(r"HFLETTER1\|P2026000002\|9\|[0-9A-F]{8}", code)
    assert read_letter_code(code) == ("P2026000002", 9)
    with pytest.raises(BadLetterCode, match="check value"):
        read_letter_code(code.replace("|9|", "|8|"))
    with pytest.raises(BadLetterCode, match="not a callback letter code"):
        read_letter_code("https://example.com")


@pytest.fixture
def letters_world(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                  calendar: BusinessCalendar) -> dict[str, Case]:
    """Beijing (110100): L1 and L2 moved to a letter today, L3 yesterday, V1 to a visit today, L4 a letter whose
    case is closed; Tianjin (120100): T1 moved to a letter today."""
    summary = make(session, tmp_path, settings, clock)([
        policy_row(policy_no="L2", applicant_name="孙丽", product_type="participating",
                   product_name="金满仓两全保险(分红型)"),
        policy_row(policy_no="L1", applicant_name="赵敏"), policy_row(policy_no="L3"), policy_row(policy_no="L4"),
        policy_row(policy_no="V1"), policy_row(policy_no="T1", branch_code="120100", branch_name="天津分公司")])
    assert summary.rejected == [], summary.rejected
    moves = {"L1": (CallbackChannel.LETTER, NOW), "L2": (CallbackChannel.LETTER, NOW + timedelta(hours=5)),
             "L3": (CallbackChannel.LETTER, NOW - timedelta(days=1)), "L4": (CallbackChannel.LETTER, NOW),
             "V1": (CallbackChannel.VISIT, NOW), "T1": (CallbackChannel.LETTER, NOW)}
    cases: dict[str, Case] = {}
    for no, (to, at) in moves.items():
        task = session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == no)).one()
        moved = move(session, task, to, actor=OPERATOR, reason="电话三次未接通", now=at, settings=settings,
                     calendar=calendar)
        case = session.get(Case, moved.case_id)
        assert case is not None
        cases[no] = case
    cases["L4"].status = CaseStatus.CLOSED
    session.commit()
    return cases


@pytest.mark.db
def test_the_days_open_letter_cases_of_the_branch_one_per_policy(session: Session,
                                                                 letters_world: dict[str, Case]) -> None:
    found = letter_cases(session, OPERATOR, "110100", DAY)
    assert [(c.policy.policy_no, c.case.id) for c in found] == [("L1", letters_world["L1"].id),
                                                                 ("L2", letters_world["L2"].id)]
    assert [c.policy.policy_no for c in letter_cases(session, OPERATOR, "110100", DAY - timedelta(days=1))] == ["L3"]
    assert [c.policy.policy_no for c in letter_cases(session, OPERATOR, "120100", DAY)] == ["T1"]
    beijing = Actor.of("王芳", [Role.BRANCH], ["110100"])
    assert len(letter_cases(session, beijing, "110100", DAY)) == 2
    with pytest.raises(LettersRefused, match="no branch 120100"):  # out of scope: as if it did not exist
        letter_cases(session, beijing, "120100", DAY)
    with pytest.raises(NotAllowed):
        letter_cases(session, Actor.of("合规李", [Role.COMPLIANCE]), "110100", DAY)


@pytest.mark.db
def test_a_letter_asks_the_flows_questions_for_its_policy(session: Session, letters_world: dict[str, Case],
                                                          settings: Settings) -> None:
    library = load_library()
    [l1, l2] = letter_cases(session, OPERATOR, "110100", DAY)
    letter = build_letter(l2, library, settings.questionnaire, DAY)
    assert letter.salutation == "尊敬的孙丽女士"
    assert letter.flow == "participating v1"
    texts = [q.text for q in letter.questions]
    assert texts[0] == "请问您是否清楚，您购买的金满仓两全保险(分红型)是一份保险产品？"  # rendered for the policy
    assert "请问您的保险合同收到了吗？" in texts
    assert any(q.topic == "benefit_uncertainty" for q in letter.questions)  # the participating module's
    assert not any("按键" in t or "本人吗" in t for t in texts)  # no identity steps on paper
    assert [q.number for q in letter.questions] == list(range(1, len(texts) + 1))
    explained = next(q for q in letter.questions if q.topic == "read_documents")
    assert explained.explanation is not None
    assert "客服热线4000-123-456咨询" in explained.explanation  # written, not spelled for the ear
    facts = dict(letter.facts)
    assert facts["保费"] == "¥6,000.00"
    assert facts["交费方式"] == "每年交纳保费六千元，交费期限十年"
    assert re.fullmatch(r"孙丽（证件号码 110105\*{8}\d{3}[\dX]，手机尾号 \d{4}）", facts["投保人"])
    traditional = build_letter(l1, library, settings.questionnaire, DAY)
    assert not any(q.topic == "benefit_uncertainty" for q in traditional.questions)
    assert read_letter_code(letter.code) == ("L2", letters_world["L2"].id)
    assert letter.reply_by == date(2026, 12, 1)  # the callback's deadline
    late = build_letter(l2, library, settings.questionnaire, date(2026, 12, 2))
    assert late.reply_by is None  # printed after it: "as soon as possible", never a date already past


@pytest.mark.db
def test_the_pdf_holds_each_letter_in_chinese_with_the_fonts_embedded(
        session: Session, letters_world: dict[str, Case], db_url: str, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "110100.pdf"
    result = run(db_url, "letters", "render", "--branch", "110100", "--date", "2026-11-25", "--out", str(out),
                 "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"out": str(out), "letters": 2, "policies": ["L1", "L2"]}
    # the embedded font subsets once (~330 KB) and a few KB a letter: a dotted rule drawn dot by dot made it 1.1 MB
    assert out.stat().st_size < 500_000
    reader = PdfReader(out)
    text = "".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", "", text)
    for policy_no in ("L1", "L2"):
        assert f"保单号{policy_no}" in flat
        assert re.sub(r"\s+", "", letter_code(policy_no, letters_world[policy_no].id)) in flat
    assert "L3" not in flat  # yesterday's
    assert "新契约回访函" in flat
    assert "投保人签名" in flat
    assert "于2026年12月1日前寄回或交至您所在地的我公司分支机构" in flat
    [item] = [c for c in letter_cases(session, OPERATOR, "110100", DAY) if c.policy.policy_no == "L2"]
    engine_questions = [s.text for s in _asked(item, settings)]
    assert engine_questions
    assert all(q in flat for q in engine_questions)
    fonts: dict[str, Any] = {}
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            fonts[str(font["/BaseFont"])] = font
    assert any("CJK-SC" in name for name in fonts)
    for font in fonts.values():  # every font embedded: the letter prints the same on any machine
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)


def _asked(item: LetterCase, settings: Settings) -> list[Scripted]:
    """The flow engine's own questions for this policy (what the letter must print, checked independently)."""
    from calls.facts import policy_facts

    library = load_library()
    facts = policy_facts(item.policy, item.task, item.agent, DAY, settings.questionnaire)
    flow = library.select(facts)
    return [s for s in FlowEngine(flow, facts, library.messages[flow.language]).script()
            if s.step.kind is StepKind.ASK and s.step.topic is not None and s.step.topic.value != "identity"]


@pytest.mark.db
def test_a_day_without_letters_writes_nothing_and_an_unknown_branch_is_one_line(
        letters_world: dict[str, Case], db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "none.pdf"
    result = run(db_url, "letters", "render", "--branch", "110100", "--date", "2026-11-20", "--out", str(out),
                 "--json")
    assert json.loads(result.stdout) == {"out": None, "letters": 0, "policies": []}
    assert not out.exists()
    for args, message in ((["--branch", "999999", "--date", "2026-11-25"], "Error: no branch 999999"),
                          (["--branch", "110100", "--date", "25/11/2026"], "Error: --date '25/11/2026': write it")):
        refused = run(db_url, "letters", "render", *args, "--out", str(out))
        assert refused.exit_code == 1
        assert refused.stderr.strip().startswith(message), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.db
def test_the_visits_form_is_the_same_questionnaire_with_the_visitors_line(
        letters_world: dict[str, Case], db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "visits.pdf"
    result = run(db_url, "letters", "render", "--branch", "110100", "--date", "2026-11-25", "--out", str(out),
                 "--visits", "--json")
    assert json.loads(result.stdout) == {"out": str(out), "letters": 1, "policies": ["V1"]}
    flat = re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(out).pages))
    assert "新契约上门回访问卷" in flat
    assert "回访人员（非本保单业务员）签名" in flat
    assert "请问您的保险合同收到了吗？" in flat
    assert "寄回" not in flat  # nothing to post: the visitor takes the signed form back
    assert re.sub(r"\s+", "", letter_code("V1", letters_world["V1"].id)) in flat
