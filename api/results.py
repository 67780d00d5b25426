"""GET /api/v1/results: the results feed of integration.feed (the outbox's `task.result` events, never skipping
one that commits late), as JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from integration import feed
from kit.actor import Actor

InvalidCursor = feed.BadCursor
CursorExpired = feed.CursorExpired


def results_page(session: Session, actor: Actor, since: str | None, limit: int) -> dict[str, Any]:
    """Raises InvalidCursor for a cursor the feed did not give out, CursorExpired for one before results that
    retention deleted."""
    page = feed.results(session, actor, since, limit)
    return {"results": [item.as_json() for item in page.items], "next_cursor": page.next_cursor,
            "has_more": page.has_more}
