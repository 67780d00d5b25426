"""The case desk's page reads: the queue (cases.queue, scoped by the actor) with each row's policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.queue import QueueFilter, queue, sla_counts
from cases.views import CaseView
from kit.actor import Actor
from storage.models import Policy

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


def queue_page(db: Session, actor: Actor, now: datetime, filters: QueueFilter, page: int) -> QueuePage:
    views = queue(db, actor, now, filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    shown = views[:PAGE_SIZE]
    ids = {v.policy_id for v in shown}
    policies = {p.id: p for p in db.scalars(select(Policy).where(Policy.id.in_(ids)))} if ids else {}
    rows = [Row(v, policies[v.policy_id].policy_no, policies[v.policy_id].applicant_name,
                policies[v.policy_id].applicant_phone) for v in shown]
    return QueuePage(rows, sla_counts(db, actor, now), page, len(views) > PAGE_SIZE)
