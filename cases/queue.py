"""The branch problem-case queue in the seed's processing order (docs/domain.md §9.5), through the actor's
scope, filtered on the same SLA status every view shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from cases.views import CaseView, case_view
from flows.vocab import CaseType
from kit.actor import CASE_READERS, Actor
from kit.clock import BUSINESS_TZ, business_start_of
from kit.vocab import SlaStatus
from storage.repositories import cases as case_repo


def month_starts(now: datetime) -> tuple[datetime, datetime]:
    """The starts of last month and of the month before it, in business time (the queue's groups)."""
    today = now.astimezone(BUSINESS_TZ).date()
    first = date(today.year, today.month, 1)
    last = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    before = date(last.year - (last.month == 1), (last.month - 2) % 12 + 1, 1)
    return business_start_of(last), business_start_of(before)


@dataclass(frozen=True)
class QueueFilter:
    branch_code: str | None = None
    case_type: CaseType | None = None
    sla: SlaStatus | None = None
    text: str | None = None  # a policy number, an applicant's name, or a phone number (its last digits)


def queue(session: Session, actor: Actor, now: datetime, filters: QueueFilter = QueueFilter(), *,
          limit: int | None = None, offset: int = 0) -> list[CaseView]:
    actor.require(CASE_READERS, "read the case queue")
    rows = case_repo.queue(session, actor, now=now, month_starts=month_starts(now), branch_code=filters.branch_code,
                           case_type=filters.case_type, sla=filters.sla, text=filters.text, limit=limit,
                           offset=offset)
    return [case_view(case, code, now) for case, code in rows]


def sla_counts(session: Session, actor: Actor, now: datetime) -> dict[str, int]:
    actor.require(CASE_READERS, "read the case queue")
    return case_repo.sla_counts(session, actor, now=now)
