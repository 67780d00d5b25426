"""What one callback letter says: the same flow the robot runs for this policy (the flow library's choice, its
steps rendered by the flow engine for the policy), written down. The yes/no questions are printed with 是/否
boxes and their explanations; the identity steps are left out (on paper the applicant's own signature is the
identity) and so are the spoken statements (greeting, "this call is recorded", goodbye)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from calls.facts import policy_facts
from flows import speak
from flows.engine import FlowEngine
from flows.facts import PLACEHOLDERS, PolicyFacts
from flows.library import FlowLibrary
from flows.model import StepKind
from flows.vocab import CaseType, Topic
from intake.identity import mask_id
from kit.settings import QuestionnaireSettings
from letters.batch import LetterCase
from letters.code import letter_code


@dataclass(frozen=True)
class Question:
    number: int
    topic: str
    text: str
    explanation: str | None


@dataclass(frozen=True)
class Letter:
    policy_no: str
    case_id: int
    code: str  # letters.code: what the QR code holds
    salutation: str  # 尊敬的赵敏女士
    applicant_name: str
    facts: list[tuple[str, str]]  # (label, value) in the order printed
    questions: list[Question]
    flow: str  # flow id and version, printed small: which questionnaire this is
    reply_by: date | None  # the callback's deadline (the cooling-off end, on a working day); None: already past
    branch_name: str
    visit: bool = False  # the form a visitor takes to the applicant (上门回访) rather than a letter by post


def _written_money(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def _written_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _facts(item: LetterCase, facts: PolicyFacts) -> list[tuple[str, str]]:
    """The policy as the questions speak of it: the same renderings as the robot's (flows.facts), with the
    numbers a reader checks against the contract written as numbers."""
    said = {name: render(facts) for name, render in PLACEHOLDERS.items()}
    policy = item.policy
    return [
        ("保单号", policy.policy_no),
        ("投保人", f"{policy.applicant_name}（证件号码 {mask_id(policy.applicant_id_no)}，手机尾号 "
                f"{policy.applicant_phone[-4:]}）"),
        ("被保险人", policy.insured_name),
        ("产品名称", policy.product_name),
        ("保费", _written_money(policy.premium)),
        ("交费方式", said["payment_phrase"]),
        ("保险期间", said["policy_term"]),
        ("合同签收日期", _written_day(facts.receipt_signed_date)),
        ("犹豫期", f"{facts.cooling_off_days} 天，至 {_written_day(facts.cooling_off_end)}"),
        ("销售人员", said["sales_party"]),
    ]


def _on_paper(text: str, facts: PolicyFacts) -> str:
    """A rendered text as it is printed: the hotline, spelled digit by digit for the ear (四零零零幺二三…), is
    written as configured (4000-123-456); every other word is the robot's."""
    return speak.for_reading(text, facts.hotline)


def build_letter(item: LetterCase, library: FlowLibrary, settings: QuestionnaireSettings, day: date) -> Letter:
    """The letter for one letter case (or the form for one in-person visit case), as of `day` (the applicant's
    age, and so the flow's choice, on it)."""
    facts = policy_facts(item.policy, item.task, item.agent, day, settings)
    flow = library.select(facts)
    engine = FlowEngine(flow, facts, library.messages[flow.language])
    asked = [s for s in engine.script() if s.step.kind is StepKind.ASK and s.step.topic is not Topic.IDENTITY]
    questions = [Question(n, str(s.step.topic), _on_paper(s.text, facts),
                          _on_paper(s.explanation, facts) if s.explanation else None)
                 for n, s in enumerate(asked, 1)]
    return Letter(
        policy_no=item.policy.policy_no, case_id=item.case.id, code=letter_code(item.policy.policy_no, item.case.id),
        salutation=f"尊敬的{item.policy.applicant_name}{PLACEHOLDERS['honorific'](facts)}",
        applicant_name=item.policy.applicant_name, facts=_facts(item, facts), questions=questions,
        flow=f"{flow.id} v{flow.version}", reply_by=item.task.deadline if item.task.deadline >= day else None,
        branch_name=item.branch.name, visit=item.case.type is CaseType.IN_PERSON_VISIT_CASE)
