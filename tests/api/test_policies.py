"""POST /api/v1/policies: the intake of `huifang import` behind a key, its refusals, idempotency, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.keys import POLICIES_READ, RESULTS_READ
from intake.reader import open_table
from intake.service import PolicyIntake
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from storage.db import units_of_work
from storage.models import ApiKey, Policy
from tests.api.conftest import ApiWorld, record
from tests.factories import policy_row, write_csv


def test_a_batch_is_imported_and_a_bad_record_is_rejected_alone_with_its_index_and_field(world: ApiWorld) -> None:
    key = world.key()
    good = [record(policy_no=f"API{i}") for i in range(3)]
    bad = record(policy_no="API-BAD", issue_date="2026-13-40", premium="-5")
    response = world.post(key, {"policies": [good[0], bad, *good[1:]]})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["received"], body["imported"], body["tasks_created"], body["rejected_records"]) == (4, 3, 3, 1)
    assert {(r["index"], r["policy_no"], r["field"]) for r in body["rejected"]} == {
        (1, "API-BAD", "issue_date"), (1, "API-BAD", "premium")}
    assert all(r["message"] and r["message_zh"] for r in body["rejected"])
    assert response.headers["Content-Type"].startswith("application/json")
    assert world.counts()["Policy"] == 3
    assert world.counts()["CallbackTask"] == 3
    line = world.audit_lines()[-1]
    assert line.operator == "api:core"
    assert line.target == "POST /api/v1/policies"
    assert "status=200" in line.detail
    assert "records=4" in line.detail
    assert "imported=3" in line.detail


def test_the_same_policies_again_update_in_place_and_never_make_a_second_task(world: ApiWorld) -> None:
    key = world.key()
    batch = [record(policy_no="P1"), record(policy_no="P2")]
    assert world.post(key, {"policies": batch}).get_json()["imported"] == 2
    again = world.post(key, {"policies": [batch[0], {**batch[1], "applicant_phone": "13799990000"}]}).get_json()
    assert (again["imported"], again["unchanged"], again["updated"], again["tasks_created"]) == (0, 1, 1, 0)
    assert world.counts()["CallbackTask"] == 2


def test_json_types_mean_what_the_files_cells_mean(world: ApiWorld) -> None:
    key = world.key()
    body = {"policies": [record(policy_no="J1", premium=6000.5, policy_term_years=20, payment_years=10,
                                is_group=False, insured_is_applicant=True, cooling_off_days=None)]}
    assert world.post(key, body).get_json()["imported"] == 1
    with world.sessions() as session:
        policy = session.scalars(select(Policy).where(Policy.policy_no == "J1")).one()
        assert policy.premium == Decimal("6000.50")
        assert policy.insured_is_applicant
        assert not policy.is_group
        assert policy.policy_term_years == 20
        assert policy.cooling_off_days == 15


def test_a_records_problems_are_the_file_imports_own_words(world: ApiWorld, tmp_path: Path, settings: Settings,
                                                           calendar: BusinessCalendar) -> None:
    """One implementation: the same bad values give the same messages through the file and through the API."""
    bad = {"product_type": "寿险", "applicant_gender": "X", "receipt_logged_date": "2026-11-01"}
    table = open_table(write_csv(tmp_path / "f.csv", [policy_row(policy_no="F1", **bad)]))
    by_file = PolicyIntake(units_of_work(world.sessions), settings=settings, calendar=calendar,
                           clock=world.clock).run(table)
    by_api = world.post(world.key(), {"policies": [record(policy_no="F2", **bad)]}).get_json()
    assert sorted((e.column, e.error, e.error_zh) for e in by_file.rejected) == sorted(
        (r["field"], r["message"], r["message_zh"]) for r in by_api["rejected"])
    assert len(by_api["rejected"]) == 3


def _refused(world: ApiWorld, response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def test_bad_json_unknown_fields_wrong_types_and_long_values_are_refused_whole(world: ApiWorld) -> None:
    key = world.key()
    before = world.counts()
    _refused(world, world.post(key, None, raw=b'{"policies": [{"policy_no": "X1",'), 400, "invalid_json")
    _refused(world, world.post(key, None, raw=b"\xff\xfe"), 400, "invalid_json")
    _refused(world, world.post(key, [record()]), 422, "invalid_request")
    _refused(world, world.post(key, {"policies": []}), 422, "invalid_request")
    _refused(world, world.post(key, {"policies": [record()], "dry_run": True}), 422, "invalid_request")
    unknown = _refused(world, world.post(key, {"policies": [record(), record(recipt_signed_date="2026-11-16")]}),
                       422, "invalid_request")
    assert unknown["details"] == [{"index": 1, "field": "recipt_signed_date",
                                   "message": "unknown field (docs/policy-file.md names every field)"}]
    typed = _refused(world, world.post(key, {"policies": [record(premium=[6000]), record(is_group=1),
                                                          record(policy_no=12345), "P9"]}), 422, "invalid_request")
    assert [(d["index"], d["field"]) for d in typed["details"]] == [(0, "premium"), (1, "is_group"),
                                                                    (2, "policy_no"), (3, None)]
    assert "got array" in typed["details"][0]["message"]
    long = _refused(world, world.post(key, {"policies": [record(policy_no="P" * 41)]}), 422, "invalid_request")
    assert long["details"][0]["field"] == "policy_no"
    _refused(world, world.post(key, {"policies": [record()]}, content_type="text/csv"), 415,
             "unsupported_media_type")
    assert world.counts() == before


def test_an_oversize_batch_or_body_is_refused_and_nothing_changes(make_world: Callable[..., ApiWorld]) -> None:
    world = make_world(max_batch=2, max_body_bytes=4096)
    key = world.key()
    _refused(world, world.post(key, {"policies": [record(), record(), record()]}), 413, "batch_too_large")
    _refused(world, world.post(key, {"policies": [record(product_name="长" * 2000)]}), 413, "body_too_large")
    assert world.counts() == {"Policy": 0, "CallbackTask": 0, "ApiIdempotency": 0}


def test_no_key_an_unknown_key_and_a_revoked_key_are_refused(world: ApiWorld) -> None:
    key = world.key("old")
    assert world.post(key, {"policies": [record(policy_no="R1")]}).status_code == 200
    world.revoke("old")
    before = world.counts()
    revoked = _refused(world, world.post(key, {"policies": [record(policy_no="R2")]}), 401, "key_revoked")
    assert "old" in str(revoked["message"])
    _refused(world, world.post("hf_not-a-key", {"policies": [record()]}), 401, "unauthorized")
    response = world.client.post("/api/v1/policies", json={"policies": [record()]})
    _refused(world, response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert world.counts() == before
    assert [a.operator for a in world.audit_lines()][-3:] == ["api:old", "api:unknown", "api:unknown"]


def test_a_key_without_the_scope_is_refused(world: ApiWorld) -> None:
    reader = world.key("reader", (POLICIES_READ, RESULTS_READ))
    error = _refused(world, world.post(reader, {"policies": [record()]}), 403, "missing_scope")
    assert "policies:write" in str(error["message"])
    writer = world.key("writer", ("policies:write",))
    _refused(world, world.get(writer, "/api/v1/policies/P1"), 403, "missing_scope")
    _refused(world, world.get(writer, "/api/v1/results"), 403, "missing_scope")
    assert world.counts()["Policy"] == 0


def test_a_key_has_its_calls_per_minute_then_429_until_the_next_minute(
        make_world: Callable[..., ApiWorld]) -> None:
    world = make_world(rate_per_minute=2)
    key, other = world.key("a"), world.key("b")
    for _ in range(2):
        assert world.get(key, "/api/v1/policies/NONE").status_code == 404
    before = world.counts()
    limited = world.post(key, {"policies": [record()]})
    _refused(world, limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert world.counts() == before
    assert world.get(other, "/api/v1/policies/NONE").status_code == 404  # per key
    world.clock.advance(timedelta(minutes=1))
    assert world.post(key, {"policies": [record()]}).status_code == 200
    with world.sessions() as session:
        assert session.scalar(select(ApiKey.window_calls).where(ApiKey.name == "a")) == 1


def test_the_same_idempotency_key_and_body_give_the_first_answer_and_change_nothing(world: ApiWorld) -> None:
    key = world.key()
    batch = {"policies": [record(policy_no="I1"), record(policy_no="I2", premium="x")]}
    first = world.post(key, batch, idempotency_key="batch-2026-12-08-001")
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    with world.sessions() as session:
        stamp = session.scalars(select(Policy.updated_at).where(Policy.policy_no == "I1")).one()
    world.clock.advance(timedelta(minutes=5))
    spaced = json.dumps(batch, indent=4, ensure_ascii=False).encode()  # the same JSON, spaced otherwise
    again = world.post(key, None, raw=spaced, idempotency_key="batch-2026-12-08-001")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert world.counts() == {"Policy": 1, "CallbackTask": 1, "ApiIdempotency": 1}
    with world.sessions() as session:
        assert session.scalars(select(Policy.updated_at).where(Policy.policy_no == "I1")).one() == stamp
    other = {"policies": [record(policy_no="I3")]}
    _refused(world, world.post(key, other, idempotency_key="batch-2026-12-08-001"), 422, "idempotency_key_reused")
    assert world.counts() == {"Policy": 1, "CallbackTask": 1, "ApiIdempotency": 1}
    # another key's Idempotency-Key space is its own
    assert world.post(world.key("other"), other, idempotency_key="batch-2026-12-08-001").status_code == 200
