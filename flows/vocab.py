"""The questionnaire vocabulary (docs/architecture.md): topics, result classes, reason codes, case types.

Owned here because flows import nothing of ours (and kit neither): everyone imports these from here.
"""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    IDENTITY = "identity"
    POLICY_RECEIVED = "policy_received"
    RECEIPT_SIGNED = "receipt_signed"
    SIGNED_IN_PERSON = "signed_in_person"
    INSURED_SIGNED = "insured_signed"
    TRUTHFUL_DISCLOSURE = "truthful_disclosure"
    READ_DOCUMENTS = "read_documents"
    UNDERSTAND_COVERAGE = "understand_coverage"
    UNDERSTAND_SURRENDER_LOSS = "understand_surrender_loss"
    COOLING_OFF_RIGHTS = "cooling_off_rights"
    PAYMENT_TERMS = "payment_terms"
    KNOWS_IS_INSURANCE = "knows_is_insurance"
    BENEFIT_UNCERTAINTY = "benefit_uncertainty"
    UL_FEES = "ul_fees"
    INVESTMENT_RISK = "investment_risk"
    RISK_STATEMENT_SELF_COPIED = "risk_statement_self_copied"
    DUAL_RECORDING_INTENT = "dual_recording_intent"
    HEALTH_WAITING_PERIOD = "health_waiting_period"
    SATISFACTION = "satisfaction"
    CONTACT_CONFIRM = "contact_confirm"


class ResultClass(StrEnum):
    STANDARD = "standard"
    SUB_STANDARD = "sub_standard"
    PROBLEM = "problem"
    VERIFICATION = "verification"


class ReasonCode(StrEnum):
    THOUGHT_DEPOSIT = "thought_deposit"
    UNCLEAR_COVERAGE = "unclear_coverage"
    UNCLEAR_COOLING_OFF_OR_SURRENDER_LOSS = "unclear_cooling_off_or_surrender_loss"
    UNCLEAR_PAYMENT_OR_TERM = "unclear_payment_or_term"
    UNCLEAR_BENEFIT_UNCERTAINTY = "unclear_benefit_uncertainty"
    UNCLEAR_UL_FEES = "unclear_ul_fees"
    SUSPECTED_MIS_SELLING = "suspected_mis_selling"
    EXPLANATION_NEEDED = "explanation_needed"
    PROXY_SIGNATURE = "proxy_signature"
    PROXY_TRANSCRIPTION = "proxy_transcription"
    WRONG_NUMBER = "wrong_number"
    DUPLICATE_NUMBER = "duplicate_number"
    REFUSED = "refused"
    POLICY_DATA_MISMATCH = "policy_data_mismatch"
    LANGUAGE_BARRIER = "language_barrier"
    UNREACHABLE = "unreachable"
    NOT_RECEIVED = "not_received"
    APPLICANT_ABSENT = "applicant_absent"
    IDENTITY_FAILED = "identity_failed"
    CLAIMS_SURRENDERED = "claims_surrendered"
    RECORDING_MISSING = "recording_missing"  # added to a call whose whole-call recording never came (§14 rule 19)
    ECALLBACK_CHOSEN = "ecallback_chosen"  # the applicant chose the e-callback link during the call (R7)


class CaseType(StrEnum):
    VERIFICATION_CASE = "verification_case"
    DIALECT_CASE = "dialect_case"
    FIRST_EXPLANATION_CASE = "first_explanation_case"
    SECOND_EXPLANATION_CASE = "second_explanation_case"
    MIS_SELLING_CASE = "mis_selling_case"
    PROXY_SIGNATURE_CASE = "proxy_signature_case"
    IN_PERSON_VISIT_CASE = "in_person_visit_case"
    LETTER_CASE = "letter_case"
    CONTRACT_QUALITY_CASE = "contract_quality_case"
