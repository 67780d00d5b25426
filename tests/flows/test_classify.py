"""The classification table (docs/domain.md §8.6, §9.1–9.3)."""

from __future__ import annotations

import pytest

from flows.classify import TOPIC_RULES, classify
from flows.model import EndReason
from flows.vocab import CaseType, ReasonCode, ResultClass, Topic


def test_all_yes_is_standard() -> None:
    result = classify({"identity": "yes", "understand_coverage": "yes"}, EndReason.COMPLETED, True)
    assert (result.result_class, result.reason_codes, result.cases) == (ResultClass.STANDARD, (), ())


def test_clarified_unclear_topics_are_sub_standard_without_cases() -> None:
    result = classify({"payment_terms": "clarified", "ul_fees": "clarified"}, EndReason.COMPLETED, True)
    assert result.result_class is ResultClass.SUB_STANDARD
    assert result.reason_codes == (ReasonCode.UNCLEAR_PAYMENT_OR_TERM, ReasonCode.UNCLEAR_UL_FEES)
    assert result.cases == ()


def test_an_unresolved_topic_outweighs_clarified_ones() -> None:
    result = classify({"payment_terms": "clarified", "cooling_off_rights": "unresolved"}, EndReason.COMPLETED, True)
    assert result.result_class is ResultClass.PROBLEM
    assert ReasonCode.SUSPECTED_MIS_SELLING in result.reason_codes
    assert [(c.type, c.reason) for c in result.cases] == [
        (CaseType.FIRST_EXPLANATION_CASE, ReasonCode.UNCLEAR_COOLING_OFF_OR_SURRENDER_LOSS)]


def test_one_case_per_type() -> None:
    result = classify({"signed_in_person": "no", "risk_statement_self_copied": "no"}, EndReason.COMPLETED, True)
    assert [c.type for c in result.cases] == [CaseType.PROXY_SIGNATURE_CASE]
    assert result.reason_codes == (ReasonCode.PROXY_SIGNATURE, ReasonCode.PROXY_TRANSCRIPTION)


def test_thought_it_was_a_deposit_unresolved_is_mis_selling() -> None:
    result = classify({"knows_is_insurance": "unresolved"}, EndReason.COMPLETED, True)
    assert [c.type for c in result.cases] == [CaseType.MIS_SELLING_CASE]
    assert result.reason_codes == (ReasonCode.SUSPECTED_MIS_SELLING, ReasonCode.THOUGHT_DEPOSIT)


def test_asking_for_a_person_is_a_contract_quality_case() -> None:
    result = classify({"understand_coverage": "human_requested"}, EndReason.COMPLETED, True)
    assert [(c.type, c.reason) for c in result.cases] == [(CaseType.CONTRACT_QUALITY_CASE,
                                                          ReasonCode.EXPLANATION_NEEDED)]


@pytest.mark.parametrize(
    ("end", "verified", "reason", "case", "retry"),
    [
        (EndReason.IDENTITY_FAILED, False, ReasonCode.IDENTITY_FAILED, CaseType.VERIFICATION_CASE, False),
        (EndReason.APPLICANT_ABSENT, False, ReasonCode.APPLICANT_ABSENT, None, True),
        (EndReason.NOT_RECEIVED, True, ReasonCode.NOT_RECEIVED, CaseType.VERIFICATION_CASE, False),
        (EndReason.REFUSED, True, ReasonCode.REFUSED, CaseType.VERIFICATION_CASE, False),
        (EndReason.LANGUAGE_BARRIER, True, ReasonCode.LANGUAGE_BARRIER, CaseType.DIALECT_CASE, False),
        (EndReason.HANGUP, False, ReasonCode.UNREACHABLE, None, True),
        (EndReason.HANGUP, True, ReasonCode.REFUSED, CaseType.VERIFICATION_CASE, False),
    ],
)
def test_contact_failures_are_verification(end: EndReason, verified: bool, reason: ReasonCode,
                                           case: CaseType | None, retry: bool) -> None:
    result = classify({"knows_is_insurance": "unresolved"}, end, verified)
    assert result.result_class is ResultClass.VERIFICATION
    assert result.reason_codes == (reason,)
    assert [c.type for c in result.cases] == ([case] if case else [])
    assert result.retry is retry


def test_every_rule_names_its_basis_and_every_policy_topic_has_a_rule() -> None:
    assert all(rule.basis for rule in TOPIC_RULES.values())
    noted_only = {Topic.IDENTITY, Topic.POLICY_RECEIVED, Topic.SATISFACTION, Topic.CONTACT_CONFIRM}
    assert set(Topic) - set(TOPIC_RULES) == noted_only
    result = classify({"understand_coverage": "clarified"}, EndReason.COMPLETED, True)
    assert "§9.2" in result.basis[0]
