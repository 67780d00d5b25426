"""POST /api/v1/policies's work: the batch through the intake of `huifang import` (intake.service.PolicyIntake
over intake.records), and the answers kept for `Idempotency-Key`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
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


def stored_answer(sessions: sessionmaker[Session], key_id: int, idempotency_key: str) -> Answer | None:
    with unit_of_work(sessions) as session:
        found = session.scalar(select(ApiIdempotency).where(ApiIdempotency.api_key_id == key_id,
                                                           ApiIdempotency.idempotency_key == idempotency_key))
        return Answer(found.request_sha256, found.status, dict(found.response)) if found is not None else None


def keep_answer(sessions: sessionmaker[Session], *, key_id: int, idempotency_key: str, request_sha256: str,
                status: int, body: dict[str, Any], now: datetime) -> Answer:
    """Keep the first answer for this key; when a concurrent request with the same key kept one first, that one
    is returned (both ran the batch; the intake is idempotent by policy_no, so the second changed nothing)."""
    try:
        with unit_of_work(sessions) as session:
            session.add(ApiIdempotency(api_key_id=key_id, idempotency_key=idempotency_key,
                                       request_sha256=request_sha256, route=ROUTE, status=status, response=body,
                                       created_at=now))
            session.commit()
    except IntegrityError:
        first = stored_answer(sessions, key_id, idempotency_key)
        if first is None:
            raise
        return first
    return Answer(request_sha256, status, body)
