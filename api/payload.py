"""The body of POST /api/v1/policies: `{"policies": [record, …]}`. Its shape is checked whole before anything is
written — bad JSON, an unknown field, a wrong JSON type, a value longer than its column, too many records: the
request is refused and nothing changes. What the values mean is the intake's (per record, in `rejected`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from api.fields import FIELD_TYPES, PYTHON_TYPES
from intake.records import RecordValue

MAX_DETAILS = 100  # problems listed in one refusal (the count says how many there were)


@dataclass
class Refusal(Exception):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


@dataclass
class Batch:
    records: list[dict[str, RecordValue]]
    data: dict[str, Any]
    _sha256: str | None = None

    @property
    def sha256(self) -> str:
        """Of the canonical JSON (keys sorted, no blanks): the same request however it is spaced. Computed when
        asked (an Idempotency-Key): 15 ms of a 1,000-record batch otherwise spent for nothing."""
        if self._sha256 is None:
            self._sha256 = canonical_sha256(self.data)
        return self._sha256


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise Refusal(400, "invalid_json", f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise Refusal(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def canonical_sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fits(value: Any, types: tuple[str, ...]) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, Decimal):
        return "number" in types
    return any(isinstance(value, PYTHON_TYPES[t]) for t in types)


def parse_batch(body: bytes, max_batch: int) -> Batch:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise Refusal(422, "invalid_request", f"the body must be a JSON object {{\"policies\": [...]}}, not "
                                              f"{_json_type(data)}")
    extra = sorted(k for k in data if k != "policies")
    if extra:
        raise Refusal(422, "invalid_request", f"unknown field(s) {', '.join(extra)}: the body has only \"policies\"",
                      [{"index": None, "field": k, "message": "unknown field"} for k in extra])
    policies = data.get("policies")
    if not isinstance(policies, list):
        raise Refusal(422, "invalid_request", "\"policies\" must be an array of policy records"
                      + ("" if "policies" in data else " (it is missing)"))
    if not policies:
        raise Refusal(422, "invalid_request", f"\"policies\" is empty: send 1 to {max_batch} records")
    if len(policies) > max_batch:
        raise Refusal(413, "batch_too_large", f"{len(policies)} records: a batch carries at most {max_batch}; "
                                              "split it (nothing was imported)")
    details: list[dict[str, Any]] = []
    for index, record in enumerate(policies):
        if not isinstance(record, dict):
            details.append({"index": index, "field": None,
                            "message": f"a policy record is a JSON object, not {_json_type(record)}"})
            continue
        for name, value in record.items():
            spec = FIELD_TYPES.get(name)
            if spec is None:
                details.append({"index": index, "field": name, "message": "unknown field (docs/policy-file.md "
                                                                          "names every field)"})
            elif not _fits(value, spec.json_types):
                details.append({"index": index, "field": name, "message": f"expected {' or '.join(spec.json_types)}"
                                                                          f" (or null), got {_json_type(value)}"})
            elif isinstance(value, str) and spec.max_length is not None and len(value) > spec.max_length:
                details.append({"index": index, "field": name,
                                "message": f"longer than {spec.max_length} characters ({len(value)})"})
    if details:
        raise Refusal(422, "invalid_request", f"{len(details)} problem(s) in the records' shape; nothing was "
                                              "imported", details[:MAX_DETAILS])
    return Batch(policies, data)
