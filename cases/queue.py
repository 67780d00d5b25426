"""The branch problem-case queue in the seed's processing order (docs/domain.md §9.5), through the actor's
scope, filtered on the same SLA status every view shows, on who handles a case and on the month it was raised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

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


class Assignee(StrEnum):
    """Whose cases: anyone's, the actor's own (its user name, as `assign` stores it), or no one's yet."""

    ANYONE = "anyone"
    ME = "me"
    UNASSIGNED = "unassigned"


def parse_month(text: str) -> date:
    """`YYYY-MM` → the first day of that month; ValueError naming the expected form otherwise."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if found is None or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"month {text!r}: write it as YYYY-MM, e.g. 2026-11")
    return date(int(found[1]), int(found[2]), 1)


def month_range(first: date) -> tuple[datetime, datetime]:
    """The business month (Asia/Shanghai) that starts on `first`, as a half-open UTC range [start, end)."""
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return business_start_of(first).astimezone(UTC), business_start_of(following).astimezone(UTC)


@dataclass(frozen=True)
class QueueFilter:
    branch_code: str | None = None
    case_type: CaseType | None = None
    sla: SlaStatus | None = None
    text: str | None = None  # a policy number, an applicant's name, or a phone number (its last digits)
    assignee: Assignee = Assignee.ANYONE
    month: date | None = None  # the first day of the month (Asia/Shanghai) the case was raised in

    def describe(self) -> str:
        """The filters that are set, e.g. `type=dialect_case, month=2026-11` (for the audit trail)."""
        parts = [f"branch={self.branch_code}" if self.branch_code else "",
                 f"type={self.case_type.value}" if self.case_type else "",
                 f"sla_status={self.sla.value}" if self.sla else "", f"q={self.text}" if self.text else "",
                 f"assignee={self.assignee.value}" if self.assignee is not Assignee.ANYONE else "",
                 f"month={self.month:%Y-%m}" if self.month else ""]
        return ", ".join(p for p in parts if p) or "all"


def _repo_filters(actor: Actor, filters: QueueFilter) -> dict[str, Any]:
    created_from, created_before = month_range(filters.month) if filters.month else (None, None)
    return {"branch_code": filters.branch_code, "case_type": filters.case_type, "sla": filters.sla,
            "text": filters.text, "assigned_to": actor.user if filters.assignee is Assignee.ME else None,
            "unassigned": filters.assignee is Assignee.UNASSIGNED, "created_from": created_from,
            "created_before": created_before}


def queue(session: Session, actor: Actor, now: datetime, filters: QueueFilter = QueueFilter(), *,
          limit: int | None = None, offset: int = 0) -> list[CaseView]:
    actor.require(CASE_READERS, "read the case queue")
    rows = case_repo.queue(session, actor, now=now, month_starts=month_starts(now), limit=limit, offset=offset,
                           **_repo_filters(actor, filters))
    return [case_view(case, code, now) for case, code in rows]


def queue_count(session: Session, actor: Actor, now: datetime, filters: QueueFilter = QueueFilter()) -> int:
    """How many open cases the queue holds with these filters (every page)."""
    actor.require(CASE_READERS, "read the case queue")
    return case_repo.queue_count(session, actor, now=now, **_repo_filters(actor, filters))


def sla_counts(session: Session, actor: Actor, now: datetime) -> dict[str, int]:
    actor.require(CASE_READERS, "read the case queue")
    return case_repo.sla_counts(session, actor, now=now)
