"""GET /api/v1/results: the results feed of integration.feed (helper notify's outbox), as JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kit.actor import Actor
from kit.clock import isoformat_local


class FeedUnavailable(RuntimeError):
    pass


class InvalidCursor(ValueError):
    pass


def results_page(session: Session, actor: Actor, since: str | None, limit: int) -> dict[str, Any]:
    try:
        from integration import feed
    except ImportError as exc:  # pragma: no cover - the outbox is another branch's until it is merged
        raise FeedUnavailable("the results feed is not installed") from exc
    try:
        page = feed.results(session, actor, since, limit)
    except ValueError as exc:
        raise InvalidCursor(f"since: {exc}") from None
    return {
        "results": [{"event_id": e.event_id, "type": e.type, "occurred_at": isoformat_local(e.created_at),
                     "policy_no": e.policy_no, "data": e.payload} for e in page.events],
        "next_cursor": page.next_cursor,
    }
