"""The facts of one policy that a flow may speak or branch on, and how each placeholder renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flows import speak


@dataclass(frozen=True)
class PolicyFacts:
    """Plain values only: the IVR builds this from the database; flows never see an ORM object."""

    applicant_name: str
    applicant_gender: str  # M | F
    applicant_birth_date: date
    applicant_age: int
    insured_name: str
    insured_is_applicant: bool
    product_name: str
    product_type: str
    channel: str
    premium: Decimal
    payment_frequency: str
    payment_years: int
    policy_term_years: int | None
    receipt_signed_date: date
    cooling_off_days: int
    cooling_off_end: date
    dual_recorded: bool
    variant: str  # A | B
    agent_name: str
    bank_name: str | None = None
    phone_last4: str = ""
    company_name: str = "汇方人寿"
    hotline: str = "4000-123-456"

    @property
    def birthday_digits(self) -> str:
        """What the applicant keys in to prove identity: birth month and day, MMDD."""
        return f"{self.applicant_birth_date:%m%d}"


def _sales_party(f: PolicyFacts) -> str:
    if f.channel == "bancassurance" and f.bank_name:
        return f.bank_name
    return f"工作人员{f.agent_name}"


# Placeholders safe to say before the identity check (whoever picked up may hear them).
PUBLIC_PLACEHOLDERS: dict[str, Callable[[PolicyFacts], str]] = {
    "company_name": lambda f: f.company_name,
    "hotline": lambda f: speak.phone_digits(f.hotline),
    "honorific": lambda f: speak.honorific(f.applicant_gender),
    "applicant_surname": lambda f: speak.surname(f.applicant_name),
    "applicant_name": lambda f: f.applicant_name,
}

# Policy details: only after the applicant has proved who they are (architecture invariant 6).
PRIVATE_PLACEHOLDERS: dict[str, Callable[[PolicyFacts], str]] = {
    "product_name": lambda f: f.product_name,
    "premium": lambda f: speak.amount_words(f.premium),
    "payment_phrase": lambda f: speak.payment_phrase(f.payment_frequency, f.premium, f.payment_years),
    "payment_years": lambda f: f"{speak.count_words(f.payment_years)}年",
    "policy_term": lambda f: speak.term_words(f.policy_term_years),
    "cooling_off_days": lambda f: f"{speak.integer_words(f.cooling_off_days)}天",
    "cooling_off_end": lambda f: speak.month_day_words(f.cooling_off_end),
    "signed_date": lambda f: speak.month_day_words(f.receipt_signed_date),
    "insured_name": lambda f: f.insured_name,
    "agent_name": lambda f: f.agent_name,
    "bank_name": lambda f: f.bank_name or "",
    "sales_party": _sales_party,
    "phone_last4": lambda f: speak.phone_digits(f.phone_last4[-4:]),
}

PLACEHOLDERS: dict[str, Callable[[PolicyFacts], str]] = {**PUBLIC_PLACEHOLDERS, **PRIVATE_PLACEHOLDERS}
# The only placeholders that say nothing of the applicant or the policy: a prompt with any other is personal.
IMPERSONAL_PLACEHOLDERS = frozenset({"company_name", "hotline"})


def placeholder_values(f: PolicyFacts) -> dict[str, str]:
    """Every placeholder as this policy's caller hears it (what a flow's texts are rendered with)."""
    return {name: render(f) for name, render in PLACEHOLDERS.items()}


def condition_values(f: PolicyFacts) -> dict[str, object]:
    """The facts a step's `when` (and a flow's `applies_to`) may test."""
    return {
        "product_type": f.product_type,
        "channel": f.channel,
        "variant": f.variant,
        "payment_frequency": f.payment_frequency,
        "insured_is_applicant": f.insured_is_applicant,
        "dual_recorded": f.dual_recorded,
        "applicant_age": f.applicant_age,
        "has_bank": bool(f.bank_name),
    }


CONDITION_KEYS = frozenset({"product_type", "channel", "variant", "payment_frequency", "insured_is_applicant",
                            "dual_recorded", "applicant_age", "has_bank"})
