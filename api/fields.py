"""The JSON shape of one policy record: the intake file's columns (intake.columns, docs/policy-file.md) with the
JSON types each accepts. The request check (api.payload) and the OpenAPI document (api.openapi) both read this
table, so they cannot disagree; what a value means (dates, enumerations, eligibility) is the intake's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.columns import COLUMNS


@dataclass(frozen=True)
class FieldType:
    json_types: tuple[str, ...]  # JSON Schema type names: string, integer, number, boolean
    max_length: int | None = None  # for strings: the database column's size
    description: str = ""


TEXT = ("string",)
NUMBER = ("integer", "string")  # 5 or "5": a core system often sends text
YES_NO = ("boolean", "string")  # true/false or Y/N/是/否

_DATE = FieldType(TEXT, 10, "YYYY-MM-DD")
_YES_NO = FieldType(YES_NO, 8, "true/false, or Y/N/是/否")

FIELD_TYPES: dict[str, FieldType] = {
    "policy_no": FieldType(TEXT, 40),
    "product_code": FieldType(TEXT, 40),
    "product_name": FieldType(TEXT, 128),
    "product_type": FieldType(TEXT, 32, "traditional, participating, universal, investment_linked, health (or 传统 …)"),
    "channel": FieldType(TEXT, 32, "agency, bancassurance, intermediary, telesales, internet (or 个险 …)"),
    "policy_term_years": FieldType(NUMBER, 16, "whole years, or \"whole_life\"/\"终身\""),
    "guaranteed_renewal": _YES_NO,
    "is_group": _YES_NO,
    "premium": FieldType(("number", "string"), 32, "yuan, more than 0, at most 2 decimals"),
    "payment_frequency": FieldType(TEXT, 32, "single, annual, semiannual, quarterly, monthly (or 趸交 …)"),
    "payment_years": FieldType(NUMBER, 16, "at least 1 (1 for single)"),
    "issue_date": _DATE,
    "receipt_signed_date": _DATE,
    "receipt_logged_date": _DATE,
    "cooling_off_days": FieldType(NUMBER, 16, "default from the configuration per product type"),
    "applicant_name": FieldType(TEXT, 64),
    "applicant_gender": FieldType(TEXT, 8, "M/F (男/女)"),
    "applicant_birth_date": _DATE,
    "applicant_id_no": FieldType(TEXT, 32),
    "applicant_phone": FieldType(TEXT, 32),
    "applicant_phone2": FieldType(TEXT, 32),
    "insured_name": FieldType(TEXT, 64),
    "insured_is_applicant": _YES_NO,
    "agent_code": FieldType(TEXT, 32),
    "agent_name": FieldType(TEXT, 64),
    "agent_phone": FieldType(TEXT, 32),
    "agent_is_applicant": _YES_NO,
    "branch_code": FieldType(TEXT, 32),
    "branch_name": FieldType(TEXT, 128),
    "bank_name": FieldType(TEXT, 128),
    "dual_recorded": _YES_NO,
}
assert list(FIELD_TYPES) == [c.name for c in COLUMNS], "api.fields must name every intake column, in order"

REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
LABELS: dict[str, str] = {c.name: c.label_zh for c in COLUMNS}
PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,),
                                             "number": (int,)}  # Decimal for "number" is added by api.payload


def record_schema() -> dict[str, Any]:
    """The JSON Schema of one record: its shape only (a request that breaks it is refused whole, 422). A missing
    or empty required field, like every problem of a value, rejects that record alone (`rejected`, as a file's
    empty cell does): the schema lists them under `x-required`, and each field's description says it."""
    properties: dict[str, Any] = {}
    for name, spec in FIELD_TYPES.items():
        types = [*spec.json_types, "null"]
        need = "required" if name in REQUIRED else "optional"
        prop: dict[str, Any] = {"type": types,
                                "description": f"{LABELS[name]} ({need})" + (f": {spec.description}"
                                                                              if spec.description else "")}
        if spec.max_length is not None:
            prop["maxLength"] = spec.max_length
        properties[name] = prop
    return {"type": "object", "additionalProperties": False, "x-required": list(REQUIRED), "properties": properties}
