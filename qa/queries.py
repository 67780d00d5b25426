"""The reviewer's list of samples (roles qa and supervisor see every branch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kit.actor import Actor
from qa.reviews import REVIEWERS
from storage.models import QaSample
from storage.repositories import qa as qa_repo

T = TypeVar("T")
PER_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int  # 1-based
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class SampleRow:
    id: int
    period: str
    kind: str  # call | case
    branch_code: str
    stratum: str
    policy_no: str
    call_sid: str | None
    case_id: int | None
    result_class: str | None  # calls: as it stands now
    drawn_at: datetime
    reviewed_at: datetime | None
    status: str  # pending | reviewed
    reviews: int = 0  # reviews so far (a second opinion makes 2)
    version: int = 1


STATUSES = ("pending", "reviewed")
KINDS = ("call", "case")


def samples(session: Session, actor: Actor, *, period: str | None, kind: str | None, status: str | None,
            branch: str | None, page: int) -> Page[SampleRow]:
    """The samples, the pending ones first (then the newest period, then by id); 50 a page."""
    actor.require(REVIEWERS, "read the quality samples")
    if kind and kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if status and status not in STATUSES:
        raise ValueError(f"status {status!r}: one of {', '.join(STATUSES)}")
    page = max(1, page)
    stmt = qa_repo.list_statement(actor, period=period or None, kind=kind or None,
                                  reviewed=None if not status else status == "reviewed", branch=branch or None)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    ordered = stmt.order_by(QaSample.reviewed_at.is_not(None), QaSample.period.desc(), QaSample.id)
    rows = session.execute(ordered.limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    items = [SampleRow(id=sample.id, period=sample.period, kind=sample.kind, branch_code=code, stratum=sample.stratum,
                       policy_no=policy_no, call_sid=call_sid, case_id=sample.case_id,
                       result_class=str(result) if result is not None else None, drawn_at=sample.drawn_at,
                       reviewed_at=sample.reviewed_at, status="reviewed" if sample.reviewed_at else "pending",
                       reviews=int(count or 0), version=sample.version_id)
             for sample, code, policy_no, call_sid, result, count in rows]
    return Page(items, page, PER_PAGE, int(total))
