"""The case desk's page reads: the queue (cases.queue, scoped by the actor) with each row's policy, every
filtered row for an export, and the people a case can be given to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.queue import QueueFilter, queue, queue_count, sla_counts
from cases.views import CaseView
from kit.actor import Actor, Role
from storage.models import Policy, User
from storage.repositories import chunked

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    case: CaseView
    policy_no: str
    applicant: str
    phone: str


@dataclass(frozen=True)
class QueuePage:
    rows: list[Row]
    counts: dict[str, int]
    page: int
    has_next: bool
    total: int  # rows with these filters, on every page


def _rows(db: Session, views: list[CaseView]) -> list[Row]:
    policies: dict[int, Policy] = {}
    for ids in chunked(sorted({v.policy_id for v in views}), 1000):
        policies.update((p.id, p) for p in db.scalars(select(Policy).where(Policy.id.in_(ids))))
    return [Row(v, policies[v.policy_id].policy_no, policies[v.policy_id].applicant_name,
                policies[v.policy_id].applicant_phone) for v in views]


def queue_page(db: Session, actor: Actor, now: datetime, filters: QueueFilter, page: int) -> QueuePage:
    views = queue(db, actor, now, filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return QueuePage(_rows(db, views[:PAGE_SIZE]), sla_counts(db, actor, now), page, len(views) > PAGE_SIZE,
                     queue_count(db, actor, now, filters))


class TooManyRows(Exception):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} rows, more than {limit}")
        self.count, self.limit = count, limit


def every_row(db: Session, actor: Actor, now: datetime, filters: QueueFilter, limit: int) -> list[Row]:
    """Every row the filters find (all pages, processing order); TooManyRows past `limit`."""
    count = queue_count(db, actor, now, filters)
    if count > limit:
        raise TooManyRows(count, limit)
    views = queue(db, actor, now, filters, limit=limit + 1)
    if len(views) > limit:  # cases raised between the count and the read
        raise TooManyRows(len(views), limit)
    return _rows(db, views)


def assignees(db: Session, actor: Actor, branch_code: str) -> list[str]:
    """The names to suggest in an assign form: the branch's case handlers, and head office for head office
    (only suggestions: who may be given a case is cases.actions.assign's rule)."""
    names = []
    for user in db.scalars(select(User).where(User.disabled.is_(False)).order_by(User.name)):
        in_branch = Role.BRANCH.value in user.roles and branch_code in user.branches
        if in_branch or (actor.branch_codes is None and Role.SUPERVISOR.value in user.roles):
            names.append(user.name)
    return names
