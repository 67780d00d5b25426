"""Retention seen from the API: an Idempotency-Key is replayed for api.idempotency_keep_hours and is new again
after it; its old answers are deleted in batches; the results feed answers 410 for a cursor before deleted results,
as its OpenAPI document says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from api.policies import expired_answers, prune_answers
from integration.retention import prune_batch
from storage.models import ApiIdempotency, IntegrationEvent
from tests.api.conftest import ApiWorld, complete, record
from tests.api.test_contract import _validate


def test_a_key_is_replayed_for_its_window_and_is_new_again_after_it(make_world: Callable[..., ApiWorld]) -> None:
    world = make_world(idempotency_keep_hours=24)
    key = world.key()
    batch = {"policies": [record(policy_no="W1")]}
    first = world.post(key, batch, idempotency_key="nightly-001")
    assert first.get_json()["imported"] == 1
    world.clock.advance(timedelta(hours=24))  # exactly the window: still kept
    again = world.post(key, batch, idempotency_key="nightly-001")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    world.clock.advance(timedelta(seconds=1))
    late = world.post(key, batch, idempotency_key="nightly-001")  # treated as a new request: the batch runs again
    assert "Idempotent-Replayed" not in late.headers
    assert (late.get_json()["imported"], late.get_json()["unchanged"]) == (0, 1)  # nothing imported twice
    with world.sessions() as session:  # the expired answer made way for the new one (one row per key)
        kept = session.scalars(select(ApiIdempotency)).all()
        assert [(a.idempotency_key, a.created_at, a.response["unchanged"]) for a in kept] == [
            ("nightly-001", world.clock.now(), 1)]
    other = world.post(key, {"policies": [record(policy_no="W2")]}, idempotency_key="nightly-001")
    assert other.status_code == 422  # within the new answer's window, another body is refused again
    world.clock.advance(timedelta(hours=25))
    assert world.post(key, {"policies": [record(policy_no="W2")]}, idempotency_key="nightly-001").status_code == 200


def test_old_answers_are_deleted_in_batches_and_recent_ones_kept(world: ApiWorld) -> None:
    key = world.key()
    for n in range(5):
        world.post(key, {"policies": [record(policy_no=f"A{n}")]}, idempotency_key=f"k{n}")
        world.clock.advance(timedelta(hours=6))  # k0 … k4 kept 30, 24, 18, 12 and 6 hours before the end
    now = world.clock.now()
    with world.sessions() as session:
        assert expired_answers(session, now=now, keep_hours=24) == 1  # k0 only: k1 is exactly 24 h old
        assert expired_answers(session, now=now, keep_hours=12) == 3
        done: list[int] = []
        while not done or done[-1] == 2:
            done.append(prune_answers(session, now=now, keep_hours=12, limit=2))
            session.commit()
        assert done == [2, 1]
        assert session.scalars(select(ApiIdempotency.idempotency_key).order_by(ApiIdempotency.id)).all() == [
            "k3", "k4"]


def test_a_cursor_before_deleted_results_gets_410_and_a_poll_without_since_resyncs(
        make_world: Callable[..., ApiWorld]) -> None:
    world = make_world()
    doc = world.client.get("/api/v1/openapi.json").get_json()
    key = world.key()
    world.post(key, {"policies": [record(policy_no=no) for no in ("G1", "G2", "G3")]})
    complete(world, "G1")
    complete(world, "G2")
    seen = world.get(key, "/api/v1/results?limit=1").get_json()
    assert [r["policy_no"] for r in seen["results"]] == ["G1"]
    with world.sessions() as session:  # delivered to the core system's endpoint
        session.execute(update(IntegrationEvent).values(delivered_at=world.clock.now()))
        session.commit()
    world.clock.advance(timedelta(days=91))
    complete(world, "G3")
    with world.sessions() as session:
        assert prune_batch(session, now=world.clock.now(), keep_days=90, notifications_on=True, limit=100) == 2
        session.commit()
    gone = world.get(key, f"/api/v1/results?since={seen['next_cursor']}")
    assert gone.status_code == 410
    body = gone.get_json()["error"]
    assert body["code"] == "cursor_expired"
    assert "older than the 90 days the feed keeps" in body["message"]
    assert "poll again without since" in body["message"]
    assert body["details"][0]["field"] == "since"
    _validate(doc, "get", "/results", gone)
    fresh = world.get(key, "/api/v1/results")
    assert [r["policy_no"] for r in fresh.get_json()["results"]] == ["G3"]
    _validate(doc, "get", "/results", fresh)


def test_the_document_states_both_windows(make_world: Callable[..., ApiWorld]) -> None:
    doc = make_world(idempotency_keep_hours=48).client.get("/api/v1/openapi.json").get_json()
    header = doc["paths"]["/policies"]["post"]["parameters"][0]
    assert header["name"] == "Idempotency-Key"
    assert "kept for 48 hours" in header["description"]
    assert "the key is new again" in header["description"]
    results = doc["paths"]["/results"]["get"]
    assert "kept 90 days" in results["description"]
    assert "cursor_expired" in results["responses"]["410"]["description"]
