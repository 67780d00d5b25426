"""Contract tests: every route's real responses, good and refused, validate against the OpenAPI document the API
serves, and every status a route gives is declared for it there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from api.fields import FIELD_TYPES
from api.keys import SCOPES
from intake.columns import COLUMNS
from tests.api.conftest import ApiWorld, complete, record

OPERATIONS = {("post", "/policies"), ("get", "/policies/{policy_no}"), ("get", "/results")}


def _validate(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The response's body against the schema the document declares for this operation and status."""
    declared = doc["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in declared, f"{method.upper()} {path} answered {status}, not declared in the document"
    schema = declared[status]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]},
                                    format_checker=jsonschema.FormatChecker()).validate(response.get_json())


@pytest.fixture
def doc(world: ApiWorld) -> dict[str, Any]:
    response = world.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_the_document_is_openapi_3_1_and_names_every_route_and_scope(world: ApiWorld, doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == OPERATIONS
    rules = {r.rule.removeprefix("/api/v1").replace("<policy_no>", "{policy_no}")
             for r in world.app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert rules - {"/openapi.json", "/<path:rest>"} == {p for _, p in OPERATIONS}
    scopes = {s for p in doc["paths"].values() for op in p.values() for req in op["security"] for s in req["bearer"]}
    assert scopes == set(SCOPES)
    record_schema = doc["components"]["schemas"]["PolicyRecord"]
    assert list(record_schema["properties"]) == [c.name for c in COLUMNS] == list(FIELD_TYPES)
    assert record_schema["x-required"] == [c.name for c in COLUMNS if c.required]
    jsonschema.Draft202012Validator.check_schema({**doc["components"]["schemas"]["PolicyBatch"],
                                                  "components": doc["components"]})


def test_a_request_the_api_accepts_validates_against_the_documents_request_schema(doc: dict[str, Any]) -> None:
    schema = {**doc["paths"]["/policies"]["post"]["requestBody"]["content"]["application/json"]["schema"],
              "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"policies": [record(premium=6000.5, is_group=False, bank_name=None)]})
    assert not validator.is_valid({"policies": [record(unknown="x")]})
    assert not validator.is_valid({"policies": [record(premium=[1])]})
    assert not validator.is_valid({"policies": []})


def test_every_routes_responses_validate_against_the_document(make_world: Callable[..., ApiWorld]) -> None:
    world = make_world(max_batch=3, rate_per_minute=1000)
    doc = world.client.get("/api/v1/openapi.json").get_json()
    key = world.key()
    reader = world.key("reader", ("policies:read",))
    post = "/policies"
    seen: list[tuple[str, str, Any]] = [
        ("post", post, world.post(key, {"policies": [record(policy_no="C1"),
                                                     record(policy_no="C2", applicant_phone="13911110001"),
                                                     record(policy_no="C3", premium="0")]})),
        ("post", post, world.post(key, {"policies": [record(policy_no="C1")]}, idempotency_key="k1")),
        ("post", post, world.post(key, {"policies": [record(policy_no="C1")]}, idempotency_key="k1")),
        ("post", post, world.post(key, {"policies": [record(policy_no="C9")]}, idempotency_key="k1")),
        ("post", post, world.post(key, None, raw=b"{")),
        ("post", post, world.post(key, {"policies": [record(x=1)]})),
        ("post", post, world.post(key, {"policies": [record()] * 4})),
        ("post", post, world.post(key, {"policies": [record()]}, content_type="text/plain")),
        ("post", post, world.post(reader, {"policies": [record()]})),
        ("post", post, world.post("nope", {"policies": [record()]})),
        ("get", "/policies/{policy_no}", world.get(key, "/api/v1/policies/C1")),
        ("get", "/policies/{policy_no}", world.get(key, "/api/v1/policies/C2")),
        ("get", "/policies/{policy_no}", world.get(key, "/api/v1/policies/NONE")),
        ("get", "/policies/{policy_no}", world.get(None, "/api/v1/policies/C1")),
        ("get", "/results", world.get(key, "/api/v1/results?limit=0")),
        ("get", "/results", world.get(key, "/api/v1/results?since=not-a-cursor")),
        ("get", "/results", world.get(reader, "/api/v1/results")),
    ]
    complete(world, "C1")
    seen.append(("get", "/results", world.get(key, "/api/v1/results")))
    for method, path, response in seen:
        _validate(doc, method, path, response)
    statuses = {(m, p, r.status_code) for m, p, r in seen}
    assert {("post", post, s) for s in (200, 400, 401, 403, 413, 415, 422)} <= statuses
    assert {("get", "/policies/{policy_no}", s) for s in (200, 401, 404)} <= statuses
    assert {("get", "/results", s) for s in (200, 400, 403)} <= statuses
    assert [r["policy_no"] for r in seen[-1][2].get_json()["results"]] == ["C1"]
    held = seen[11][2].get_json()
    assert held["task"]["status"] == "held"
    assert held["task"]["hold_reasons"] == ["duplicate_number"]
    assert [c["type"] for c in held["open_cases"]] == ["verification_case"]


def test_an_unknown_api_route_is_a_json_404(world: ApiWorld) -> None:
    response = world.client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
