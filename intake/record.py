"""A validated intake row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from intake.phones import Phone
from kit.vocab import Channel, Gender, PaymentFrequency, ProductType


@dataclass(frozen=True)
class PolicyRecord:
    row: int
    policy_no: str
    product_code: str
    product_name: str
    product_type: ProductType
    channel: Channel
    policy_term_years: int | None  # None = whole life
    guaranteed_renewal: bool
    is_group: bool
    premium: Decimal
    payment_frequency: PaymentFrequency
    payment_years: int
    issue_date: date
    receipt_signed_date: date | None
    receipt_logged_date: date | None
    cooling_off_days: int
    applicant_name: str
    applicant_gender: Gender
    applicant_birth_date: date
    applicant_id_no: str
    applicant_phone: Phone
    applicant_phone2: Phone | None
    insured_name: str
    insured_is_applicant: bool
    agent_code: str
    agent_name: str
    agent_phone: Phone
    agent_is_applicant: bool
    branch_code: str
    branch_name: str
    bank_name: str | None
    dual_recorded: bool | None  # None when the file does not say: intake derives it


@dataclass(frozen=True)
class RowError:
    """One problem of a rejected row: `error` in English (the JSON contract), `error_zh` its Chinese twin (both
    from one entry of intake.problems)."""

    row: int
    column: str
    error: str
    error_zh: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "error": self.error, "error_zh": self.error_zh}
