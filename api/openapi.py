"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. The record's fields come from api.fields
(the intake's columns); tests/api/test_contract.py validates every route's real responses against it."""

from __future__ import annotations

from typing import Any

from api.fields import record_schema
from api.keys import POLICIES_READ, POLICIES_WRITE, RESULTS_READ, SCOPES
from kit.settings import ApiSettings

REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(properties) if required is None else required}


STR = {"type": "string"}
INT = {"type": "integer", "minimum": 0}
DAY = {"type": "string", "format": "date"}
TIME = {"type": "string", "format": "date-time"}
NULL_STR = {"type": ["string", "null"]}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "bad request (invalid_json, invalid_parameter, invalid_cursor, invalid_idempotency_key)",
             401: "no key, an unknown key (unauthorized) or a revoked key (key_revoked)",
             403: "the key lacks the route's scope (missing_scope)", 404: "no such policy (not_found)",
             410: "the cursor is older than the results the feed keeps (cursor_expired, notifications.keep_days): "
                  "results after it were deleted. Resync: read the policies you need with GET /policies/{policy_no}, "
                  "then poll again without since",
             413: "more records than api.max_batch (batch_too_large) or a body over api.max_body_bytes "
                  "(body_too_large); nothing imported",
             415: "not application/json (unsupported_media_type)",
             422: "the body's shape: unknown field, wrong JSON type, too long (invalid_request, with details); or an "
                  "Idempotency-Key used with another body (idempotency_key_reused); nothing imported",
             429: "the key's calls this minute are used up (rate_limited); see Retry-After",
             503: "the batch stopped part-way (import_interrupted): send the same request again"}
    return {str(c): {"description": words[c], "content": {"application/json": {"schema": _ref("Error")}}}
            for c in codes}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}}


def document(settings: ApiSettings, keep_days: int) -> dict[str, Any]:
    """The document for these settings (`keep_days`: notifications.keep_days, how long the feed keeps results)."""
    batch = record_schema()
    hours = settings.idempotency_keep_hours
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "huifang (回访) core-system API",
            "version": "1.0.0",
            "description": (
                "New policies in (the intake file's fields and rules: docs/policy-file.md), callback status and "
                "results out. Authorization: Bearer KEY (`huifang apikeys add NAME --scope ...`); scopes "
                f"{', '.join(SCOPES)}; at most {settings.rate_per_minute} calls a minute per key. JSON in UTF-8. "
                "Errors: {\"error\": {\"code\", \"message\", \"details\": [{\"index\", \"field\", \"message\"}]}}."),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/policies": {"post": {
                "operationId": "postPolicies",
                "summary": f"Import a batch of 1 to {settings.max_batch} policies",
                "description": (
                    "The same validation, eligibility, deadlines and phone holds as `huifang import`. A policy sent "
                    "again (same policy_no) updates it and never makes a second callback task. A record with bad "
                    "values is rejected alone (`rejected`: index, field, message), the others are imported. With "
                    "an Idempotency-Key, the same key and body again get the first answer back unchanged "
                    "(Idempotent-Replayed: true) and change nothing; the same key with another body is refused "
                    f"(422). Scope {POLICIES_WRITE}."),
                "security": [{"bearer": [POLICIES_WRITE]}],
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": (
                                    "Per API key. The first answer is kept for "
                                    f"{hours} hours (api.idempotency_keep_hours) and replayed to the same key and "
                                    "body (Idempotent-Replayed: true); another body with the key is refused (422). "
                                    f"After {hours} hours the answer is deleted and the key is new again: the batch "
                                    "runs again, changing nothing already imported (policies are matched by "
                                    "policy_no)."),
                                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PolicyBatch")}}},
                "responses": {**_ok("ImportResult", "the batch was processed (see `rejected` for refused records)"),
                              **_errors(400, 401, 403, 413, 415, 422, 429, 503)},
            }},
            "/policies/{policy_no}": {"get": {
                "operationId": "getPolicy",
                "summary": "One policy's callback status",
                "description": f"Task, attempts, result class, reason codes, open cases, late flag. Scope "
                               f"{POLICIES_READ}.",
                "security": [{"bearer": [POLICIES_READ]}],
                "parameters": [{"name": "policy_no", "in": "path", "required": True, "schema": STR}],
                "responses": {**_ok("PolicyStatus", "the policy"), **_errors(401, 403, 404, 429)},
            }},
            "/results": {"get": {
                "operationId": "getResults",
                "summary": "Callback results in the order they were decided",
                "description": ("Page with `since` = the previous page's `next_cursor` (opaque); an empty page "
                                "keeps the cursor: poll again later. A result whose transaction commits late is "
                                "never skipped (the feed shows only events older than every running transaction)."
                                f" Results are kept {keep_days} days (notifications.keep_days): a cursor older than "
                                "that is refused with 410 cursor_expired rather than skipping deleted results, and "
                                "a request without since starts at the oldest result kept."
                                f" Scope {RESULTS_READ}."),
                "security": [{"bearer": [RESULTS_READ]}],
                "parameters": [{"name": "since", "in": "query", "required": False, "schema": STR},
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
                "responses": {**_ok("ResultsPage", "a page of results"), **_errors(400, 401, 403, 410, 429)},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API key from `huifang apikeys add`"}},
            "schemas": {
                "PolicyRecord": batch,
                "PolicyBatch": _obj({"policies": {"type": "array", "minItems": 1, "maxItems": settings.max_batch,
                                                  "items": _ref("PolicyRecord")}}),
                "Error": _obj({"error": _obj({
                    "code": STR, "message": STR,
                    "details": {"type": "array", "items": _obj({"index": {"type": ["integer", "null"]},
                                                                "field": NULL_STR, "message": STR})}})}),
                "RejectedProblem": _obj({"index": INT, "policy_no": NULL_STR, "field": STR, "message": STR,
                                         "message_zh": STR}),
                "ImportResult": _obj({
                    "received": INT, "imported": INT, "updated": INT, "unchanged": INT, "excluded": INT,
                    "tasks_created": INT, "held": INT, "rejected_records": INT,
                    "rejected": {"type": "array", "items": _ref("RejectedProblem"),
                                 "description": "every problem of every rejected record (a record may have several)"},
                }),
                "Task": _obj({
                    "status": STR, "channel": STR, "hold_reasons": {"type": "array", "items": STR},
                    "opens_on": DAY, "deadline": DAY, "attempts": INT,
                    "result_class": {"type": ["string", "null"],
                                     "enum": ["standard", "sub_standard", "problem", "verification", None]},
                    "reason_codes": {"type": "array", "items": STR}, "late": {"type": "boolean"},
                }),
                "OpenCase": _obj({"id": INT, "type": STR, "reason": STR, "status": STR,
                                  "sla_status": {"enum": ["normal", "warning", "overdue"]},
                                  "created_at": TIME, "due_at": TIME}),
                "PolicyStatus": _obj({
                    "policy_no": STR, "callback_required": {"type": "boolean"}, "exclusion_reason": NULL_STR,
                    "cooling_off_end": {"type": ["string", "null"], "format": "date"},
                    "task": {"oneOf": [_ref("Task"), {"type": "null"}]}, "calls": INT,
                    "open_cases": {"type": "array", "items": _ref("OpenCase")}, "late": {"type": "boolean"},
                }),
                "ResultEvent": _obj({
                    "event_id": {"type": "string", "format": "uuid", "description": "unique: dedupe by it"},
                    "type": {"const": "task.result"}, "occurred_at": TIME, "policy_no": STR,
                    "data": {"type": "object", "required": ["task_status", "result_class", "reason_codes"],
                             "properties": {
                                 "task_status": STR, "result_class": {"type": ["string", "null"]},
                                 "reason_codes": {"type": "array", "items": STR},
                                 "previous_result_class": {"type": ["string", "null"]},
                                 "channel": NULL_STR, "attempts": INT,
                                 "completed_at": {"type": ["string", "null"], "format": "date-time"},
                                 "deadline": {"type": ["string", "null"], "format": "date"}}},
                }),
                "ResultsPage": _obj({"results": {"type": "array", "items": _ref("ResultEvent")},
                                     "next_cursor": {"type": "string", "description": "pass as `since` next time "
                                                     "(the same cursor again when nothing is new yet)"},
                                     "has_more": {"type": "boolean", "description": "more results are ready now: "
                                                  "ask again at once"}}),
            },
        },
    }
