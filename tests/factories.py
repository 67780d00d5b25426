"""Builders for intake rows and files used across tests."""

from __future__ import annotations

import csv
from datetime import date
from itertools import count
from pathlib import Path

from intake.columns import BY_NAME, COLUMNS
from intake.identity import make_resident_id
from intake.reader import RawRow

_seq = count(1)


def policy_row(**overrides: str) -> dict[str, str]:
    """A valid row (English identifiers) that needs a callback; overrides replace fields."""
    n = next(_seq)
    birth = date(1980, 5, 17)
    row = {
        "policy_no": f"T{n:08d}",
        "product_code": "T101",
        "product_name": "鑫福年年终身寿险",
        "product_type": "traditional",
        "channel": "agency",
        "policy_term_years": "20",
        "guaranteed_renewal": "N",
        "is_group": "N",
        "premium": "6000.00",
        "payment_frequency": "annual",
        "payment_years": "10",
        "issue_date": "2026-11-12",
        "receipt_signed_date": "2026-11-16",
        "receipt_logged_date": "2026-11-17",
        "cooling_off_days": "",
        "applicant_name": "赵敏",
        "applicant_gender": "F",
        "applicant_birth_date": birth.isoformat(),
        "applicant_id_no": make_resident_id("110105", birth, 2 * n, male=False),
        "applicant_phone": f"1370{n:07d}",
        "applicant_phone2": "",
        "insured_name": "赵敏",
        "insured_is_applicant": "Y",
        "agent_code": "A1001",
        "agent_name": "张建国",
        "agent_phone": "13911110001",
        "agent_is_applicant": "N",
        "branch_code": "110100",
        "branch_name": "北京分公司",
        "bank_name": "",
        "dual_recorded": "",
    }
    row.update(overrides)
    return row


def raw(row: dict[str, str], number: int = 2) -> RawRow:
    return RawRow(number, dict(row))


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    chinese: bool = False,
    encoding: str = "utf-8",
    extra_columns: dict[str, str] | None = None,
) -> Path:
    names = [c.name for c in COLUMNS]
    headers = [BY_NAME[n].label_zh if chinese else n for n in names] + list(extra_columns or {})
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row.get(n, "") for n in names] + list((extra_columns or {}).values()))
    return path
