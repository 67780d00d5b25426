"""The counts /metrics reads at scrape time: one grouped query each, no personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kit.clock import BUSINESS_TZ
from kit.vocab import OPEN_CASE_STATUSES, RecordingStatus, SlaStatus
from storage.models import Call, Case, Recording
from storage.repositories import claims
from storage.repositories.cases import sla_expression


def calls_by_outcome(session: Session) -> dict[str, int]:
    return {str(k): int(n) for k, n in session.execute(select(Call.outcome, func.count()).group_by(Call.outcome))}


def results_by_class(session: Session) -> dict[str, int]:
    stmt = select(Call.result_class, func.count()).where(Call.result_class.is_not(None)).group_by(Call.result_class)
    return {str(k): int(n) for k, n in session.execute(stmt)}


def open_cases_by_sla(session: Session, now: datetime) -> dict[str, int]:
    status = sla_expression(now)
    stmt = select(status, func.count()).select_from(Case).where(Case.status.in_(OPEN_CASE_STATUSES)).group_by(status)
    counts = {s.value: 0 for s in SlaStatus}
    counts.update({str(k): int(n) for k, n in session.execute(stmt)})
    return counts


def recordings_pending(session: Session) -> int:
    stmt = select(func.count()).select_from(Recording).where(Recording.status == RecordingStatus.PENDING)
    return session.scalar(stmt) or 0


def dialer_load(session: Session, now: datetime) -> tuple[int, int]:
    """(tasks in flight under a live lease, queued tasks due and not claimed)."""
    return claims.in_flight(session, now), claims.due_backlog(session, now, now.astimezone(BUSINESS_TZ).date())
