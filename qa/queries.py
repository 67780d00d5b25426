"""The reviewer's list of samples (roles qa and supervisor see every branch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from kit.actor import Actor

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
    reviews: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def samples(session: Session, actor: Actor, *, period: str | None, kind: str | None, status: str | None,
            branch: str | None, page: int) -> Page[SampleRow]:
    raise NotImplementedError
