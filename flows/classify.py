"""From a finished call to its result class, reason codes and the cases to open — one table.

Each row names its basis in docs/domain.md, so every decision can be traced to a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flows.engine import Answer
from flows.model import EndReason
from flows.vocab import CaseType, ReasonCode, ResultClass, Topic

_SEVERITY = {ResultClass.STANDARD: 0, ResultClass.SUB_STANDARD: 1, ResultClass.PROBLEM: 2, ResultClass.VERIFICATION: 3}


@dataclass(frozen=True)
class TopicRule:
    """What a negative answer on a topic means."""

    reason: ReasonCode
    case: CaseType
    mis_selling_family: bool  # one of the six 疑似误导 topics: unresolved adds suspected_mis_selling
    basis: str


_EXPLAIN = CaseType.FIRST_EXPLANATION_CASE
_UNCLEAR = "§9.2 次标准件/疑似误导; §14 rule 21"
TOPIC_RULES: dict[Topic, TopicRule] = {
    Topic.KNOWS_IS_INSURANCE: TopicRule(ReasonCode.THOUGHT_DEPOSIT, CaseType.MIS_SELLING_CASE, True,
                                        "§9.2 认为存款赠保险; R1 Art.18 mis-selling"),
    Topic.READ_DOCUMENTS: TopicRule(ReasonCode.UNCLEAR_COVERAGE, _EXPLAIN, True, _UNCLEAR),
    Topic.UNDERSTAND_COVERAGE: TopicRule(ReasonCode.UNCLEAR_COVERAGE, _EXPLAIN, True, _UNCLEAR),
    Topic.HEALTH_WAITING_PERIOD: TopicRule(ReasonCode.UNCLEAR_COVERAGE, _EXPLAIN, True, _UNCLEAR + "; R6 Art.44"),
    Topic.UNDERSTAND_SURRENDER_LOSS: TopicRule(ReasonCode.UNCLEAR_COOLING_OFF_OR_SURRENDER_LOSS, _EXPLAIN, True, _UNCLEAR),
    Topic.COOLING_OFF_RIGHTS: TopicRule(ReasonCode.UNCLEAR_COOLING_OFF_OR_SURRENDER_LOSS, _EXPLAIN, True, _UNCLEAR),
    Topic.PAYMENT_TERMS: TopicRule(ReasonCode.UNCLEAR_PAYMENT_OR_TERM, _EXPLAIN, True, _UNCLEAR),
    Topic.BENEFIT_UNCERTAINTY: TopicRule(ReasonCode.UNCLEAR_BENEFIT_UNCERTAINTY, _EXPLAIN, True, _UNCLEAR),
    Topic.INVESTMENT_RISK: TopicRule(ReasonCode.UNCLEAR_BENEFIT_UNCERTAINTY, _EXPLAIN, True, _UNCLEAR),
    Topic.UL_FEES: TopicRule(ReasonCode.UNCLEAR_UL_FEES, _EXPLAIN, True, _UNCLEAR),
    Topic.SIGNED_IN_PERSON: TopicRule(ReasonCode.PROXY_SIGNATURE, CaseType.PROXY_SIGNATURE_CASE, False,
                                      "§9.2 代签字类; §15 Q8"),
    Topic.INSURED_SIGNED: TopicRule(ReasonCode.PROXY_SIGNATURE, CaseType.PROXY_SIGNATURE_CASE, False,
                                    "§9.2 代签字类; §14 rule 11"),
    Topic.RECEIPT_SIGNED: TopicRule(ReasonCode.PROXY_SIGNATURE, CaseType.PROXY_SIGNATURE_CASE, False,
                                    "§9.2 代签字类 (保单回执)"),
    Topic.RISK_STATEMENT_SELF_COPIED: TopicRule(ReasonCode.PROXY_TRANSCRIPTION, CaseType.PROXY_SIGNATURE_CASE, False,
                                                "§9.2 代抄录风险提示语; §14 rule 15"),
    Topic.TRUTHFUL_DISCLOSURE: TopicRule(ReasonCode.EXPLANATION_NEEDED, _EXPLAIN, False,
                                         "§8.2 如实告知 → problem (青岛话术 五)"),
    Topic.DUAL_RECORDING_INTENT: TopicRule(ReasonCode.SUSPECTED_MIS_SELLING, CaseType.MIS_SELLING_CASE, False,
                                           "R4 Art.10/11 dual-recording defect; §14 rule 13"),
}


@dataclass(frozen=True)
class EndRule:
    result: ResultClass
    reason: ReasonCode
    case: CaseType | None  # None: the dialer tries again instead
    basis: str


END_RULES: dict[EndReason, EndRule] = {
    EndReason.IDENTITY_FAILED: EndRule(ResultClass.VERIFICATION, ReasonCode.IDENTITY_FAILED,
                                       CaseType.VERIFICATION_CASE, "§8.6 identity fails → end; §14 rule 10"),
    EndReason.APPLICANT_ABSENT: EndRule(ResultClass.VERIFICATION, ReasonCode.APPLICANT_ABSENT, None,
                                        "§4 applicant absent → book a time, call again"),
    EndReason.NOT_RECEIVED: EndRule(ResultClass.VERIFICATION, ReasonCode.NOT_RECEIVED, CaseType.VERIFICATION_CASE,
                                    "§9.2 未收到合同 核实件; §14 rule 30"),
    EndReason.REFUSED: EndRule(ResultClass.VERIFICATION, ReasonCode.REFUSED, CaseType.VERIFICATION_CASE,
                               "§9.2 拒访 (表示未购买保险)"),
    EndReason.LANGUAGE_BARRIER: EndRule(ResultClass.VERIFICATION, ReasonCode.LANGUAGE_BARRIER, CaseType.DIALECT_CASE,
                                        "§9.2 语言沟通不畅; §9.3 方言件"),
}
HANGUP_BEFORE_IDENTITY = EndRule(ResultClass.VERIFICATION, ReasonCode.UNREACHABLE, None,
                                 "§6 not reached: the dialer tries again (rule 18 decides unreachable)")
HANGUP_AFTER_IDENTITY = EndRule(ResultClass.VERIFICATION, ReasonCode.REFUSED, CaseType.VERIFICATION_CASE,
                                "§9.2 拒访: the applicant ended the callback")
HUMAN_REQUESTED = TopicRule(ReasonCode.EXPLANATION_NEEDED, CaseType.CONTRACT_QUALITY_CASE, False,
                            "§8.6 asks for someone to explain → 契约品质件")


@dataclass(frozen=True)
class CaseToOpen:
    type: CaseType
    reason: ReasonCode
    topic: str | None


@dataclass(frozen=True)
class Classification:
    result_class: ResultClass
    reason_codes: tuple[ReasonCode, ...]
    cases: tuple[CaseToOpen, ...]
    retry: bool  # not completed and nothing for a branch yet: the dialer calls again
    basis: tuple[str, ...]


def classify(answers: Mapping[str, str], end_reason: EndReason, identity_verified: bool) -> Classification:
    """§8.6 / §9.1: contact failures → verification; any unresolved negative → problem; negatives all
    clarified on the call → sub_standard; everything affirmative → standard."""
    if end_reason is EndReason.LINK_REQUESTED:  # not finished: the e-callback decides (calls.results)
        return Classification(ResultClass.VERIFICATION, (ReasonCode.ECALLBACK_CHOSEN,), (), True,
                              ("R7: the applicant chooses the callback method → the e-callback SMS link",))
    if end_reason in END_RULES or end_reason is EndReason.HANGUP:
        end = END_RULES.get(end_reason) or (HANGUP_AFTER_IDENTITY if identity_verified else HANGUP_BEFORE_IDENTITY)
        opened = (CaseToOpen(end.case, end.reason, None),) if end.case else ()
        return Classification(end.result, (end.reason,), opened, end.case is None, (end.basis,))

    result = ResultClass.STANDARD
    reasons: list[ReasonCode] = []
    cases: dict[CaseType, CaseToOpen] = {}
    basis: list[str] = []

    def note(klass: ResultClass, codes: list[ReasonCode], why: str) -> None:
        nonlocal result
        if _SEVERITY[klass] > _SEVERITY[result]:
            result = klass
        reasons.extend(codes)
        basis.append(why)

    for topic_name, answer in answers.items():
        topic = Topic(topic_name)
        if answer == Answer.HUMAN_REQUESTED:
            rule = HUMAN_REQUESTED
        elif topic in TOPIC_RULES and answer in (Answer.NO, Answer.UNRESOLVED, Answer.CLARIFIED):
            rule = TOPIC_RULES[topic]
        else:
            continue
        if answer == Answer.CLARIFIED and rule.mis_selling_family:
            note(ResultClass.SUB_STANDARD, [rule.reason], f"{topic}: clarified on the call → sub_standard ({rule.basis})")
            continue
        codes = [ReasonCode.SUSPECTED_MIS_SELLING, rule.reason] if rule.mis_selling_family else [rule.reason]
        note(ResultClass.PROBLEM, codes, f"{topic}: {answer} → problem, {rule.case} ({rule.basis})")
        cases.setdefault(rule.case, CaseToOpen(rule.case, rule.reason, topic.value))
    if result is ResultClass.STANDARD:
        basis.append("all answers affirmative → standard (§9.1 标准件)")
    return Classification(result, tuple(dict.fromkeys(reasons)), tuple(cases.values()), False, tuple(basis))
