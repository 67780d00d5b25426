"""POST /api/v1/policies's work: the batch through the intake of `huifang import` (intake.service.PolicyIntake
over intake.records), and the answers kept for `Idempotency-Key`: replayed for `api.idempotency_keep_hours`, then
deleted by retention (`prune_answers`, run by `huifang notifications prune` and the dialer's `prune` job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.payload import Batch
from intake.records import records_table
from intake.service import ImportSummary, PolicyIntake
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from storage.db import unit_of_work, units_of_work
from storage.models import ApiIdempotency

ROUTE = "POST /api/v1/policies"


def import_batch(sessions: sessionmaker[Session], batch: Batch, *, settings: Settings, calendar: BusinessCalendar,
                 clock: Clock) -> dict[str, Any]:
    """Import the batch (one transaction for its rows, one for the phone rules: a batch is one chunk) and say
    what happened to each record. Raises intake.service.ImportInterrupted when it stops part-way."""
    intake = PolicyIntake(units_of_work(sessions), settings=settings, calendar=calendar, clock=clock,
                          chunk_rows=max(len(batch.records), 1))
    return result_body(intake.run(records_table(batch.records)), batch)


def result_body(summary: ImportSummary, batch: Batch) -> dict[str, Any]:
    def policy_no(index: int) -> str | None:
        value = batch.records[index].get("policy_no") if 0 <= index < len(batch.records) else None
        return str(value) if value not in (None, "") else None

    return {
        "received": summary.rows,
        "imported": summary.imported,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "excluded": summary.excluded,
        "tasks_created": summary.tasks_created,
        "held": summary.held,
        "rejected_records": summary.rejected_rows,
        "rejected": [{"index": e.row, "policy_no": policy_no(e.row), "field": e.column, "message": e.error,
                      "message_zh": e.error_zh} for e in summary.rejected],
    }


@dataclass(frozen=True)
class Answer:
    """A kept answer: the request it answered (its canonical SHA-256), the status and body given."""

    request_sha256: str
    status: int
    body: dict[str, Any]


def kept_since(now: datetime, keep_hours: int) -> datetime:
    """Answers kept at or after this are replayed; older ones are gone (the key is new again)."""
    return now - timedelta(hours=keep_hours)


def stored_answer(sessions: sessionmaker[Session], key_id: int, idempotency_key: str, *, now: datetime,
                  keep_hours: int) -> Answer | None:
    """The answer kept for this key within the last `keep_hours` (api.idempotency_keep_hours), else None."""
    with unit_of_work(sessions) as session:
        found = session.scalar(select(ApiIdempotency).where(
            ApiIdempotency.api_key_id == key_id, ApiIdempotency.idempotency_key == idempotency_key,
            ApiIdempotency.created_at >= kept_since(now, keep_hours)))
        return Answer(found.request_sha256, found.status, dict(found.response)) if found is not None else None


def keep_answer(sessions: sessionmaker[Session], *, key_id: int, idempotency_key: str, request_sha256: str,
                status: int, body: dict[str, Any], now: datetime, keep_hours: int) -> Answer:
    """Keep the first answer for this key (an expired answer of the same key, not pruned yet, makes way); when a
    concurrent request with the same key kept one first, that one is returned (both ran the batch; the intake is
    idempotent by policy_no, so the second changed nothing)."""
    try:
        with unit_of_work(sessions) as session:
            session.execute(delete(ApiIdempotency).where(
                ApiIdempotency.api_key_id == key_id, ApiIdempotency.idempotency_key == idempotency_key,
                ApiIdempotency.created_at < kept_since(now, keep_hours)))
            session.add(ApiIdempotency(api_key_id=key_id, idempotency_key=idempotency_key,
                                       request_sha256=request_sha256, route=ROUTE, status=status, response=body,
                                       created_at=now))
            session.commit()
    except IntegrityError:
        first = stored_answer(sessions, key_id, idempotency_key, now=now, keep_hours=keep_hours)
        if first is None:
            raise
        return first
    return Answer(request_sha256, status, body)


def prune_answers(session: Session, *, now: datetime, keep_hours: int, limit: int) -> int:
    """Delete up to `limit` answers older than `keep_hours`, in the caller's transaction (flushed, not committed);
    returns how many. Called until a batch comes back short, each batch committed on its own."""
    old = ApiIdempotency.created_at < kept_since(now, keep_hours)
    chosen = select(ApiIdempotency.id).where(old).order_by(ApiIdempotency.created_at).limit(limit).scalar_subquery()
    result = session.execute(delete(ApiIdempotency).where(ApiIdempotency.id.in_(chosen), old),
                             execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)


def expired_answers(session: Session, *, now: datetime, keep_hours: int) -> int:
    """How many kept answers are past `keep_hours` (what prune_answers would delete)."""
    return int(session.scalar(select(func.count()).select_from(ApiIdempotency)
                              .where(ApiIdempotency.created_at < kept_since(now, keep_hours))) or 0)
