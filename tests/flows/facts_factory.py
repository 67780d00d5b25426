"""PolicyFacts for flow tests."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from flows.facts import PolicyFacts

BASE = PolicyFacts(
    applicant_name="赵敏",
    applicant_gender="F",
    applicant_birth_date=date(1980, 5, 17),
    applicant_age=46,
    insured_name="赵敏",
    insured_is_applicant=True,
    product_name="鑫福年年终身寿险",
    product_type="traditional",
    channel="agency",
    premium=Decimal("6000"),
    payment_frequency="annual",
    payment_years=10,
    policy_term_years=None,
    receipt_signed_date=date(2026, 11, 16),
    cooling_off_days=15,
    cooling_off_end=date(2026, 12, 1),
    dual_recorded=False,
    variant="A",
    agent_name="张建国",
)


def facts(**overrides: Any) -> PolicyFacts:
    if "premium" in overrides:
        overrides["premium"] = Decimal(str(overrides["premium"]))
    for key in ("applicant_birth_date", "receipt_signed_date", "cooling_off_end"):
        if isinstance(overrides.get(key), str):
            overrides[key] = date.fromisoformat(overrides[key])
    return dataclasses.replace(BASE, **overrides)
