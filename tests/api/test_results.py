"""GET /api/v1/results: the outbox's results in the order they were decided, paged by the feed's cursor."""

from __future__ import annotations

from flows.vocab import ResultClass
from tests.api.conftest import ApiWorld, complete, record


def test_results_page_in_the_order_they_were_decided_and_an_empty_page_keeps_the_cursor(world: ApiWorld) -> None:
    key = world.key()
    world.post(key, {"policies": [record(policy_no=no) for no in ("R1", "R2", "R3")]})
    first = world.get(key, "/api/v1/results").get_json()
    assert first["results"] == []
    assert first["has_more"] is False
    for no in ("R3", "R1", "R2"):
        complete(world, no, ResultClass.PROBLEM if no == "R1" else ResultClass.STANDARD,
                 ("claims_surrendered",) if no == "R1" else ())
    page = world.get(key, f"/api/v1/results?since={first['next_cursor']}&limit=2").get_json()
    assert [r["policy_no"] for r in page["results"]] == ["R3", "R1"]
    assert page["has_more"] is True
    problem = page["results"][1]
    assert problem["type"] == "task.result"
    assert (problem["data"]["result_class"], problem["data"]["reason_codes"]) == ("problem", ["claims_surrendered"])
    rest = world.get(key, f"/api/v1/results?since={page['next_cursor']}&limit=2").get_json()
    assert [r["policy_no"] for r in rest["results"]] == ["R2"]
    assert rest["has_more"] is False
    empty = world.get(key, f"/api/v1/results?since={rest['next_cursor']}").get_json()
    assert empty["results"] == []
    assert empty["next_cursor"] == rest["next_cursor"]
    assert len({r["event_id"] for r in page["results"] + rest["results"]}) == 3


def test_a_cursor_the_feed_did_not_give_and_a_bad_limit_are_refused(world: ApiWorld) -> None:
    key = world.key()
    bad = world.get(key, "/api/v1/results?since=bm9wZQ")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_cursor"
    for limit in ("0", "1001", "x"):
        response = world.get(key, f"/api/v1/results?limit={limit}")
        assert response.status_code == 400
        assert response.get_json()["error"]["details"][0]["field"] == "limit"
