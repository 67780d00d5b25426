"""The imports desk's reads: the import history (every upload: who, when, file, SHA-256, counts), one job, and the
tasks the phone rules hold (重复号码 / 电话有误) with their verification case, through the actor's branch scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.actor import Actor
from storage.models import Branch, CallbackTask, Case, ImportJob, Policy, TaskHold
from storage.scope import scoped

PAGE_SIZE = 20
HELD_PAGE_SIZE = 50


@dataclass(frozen=True)
class HistoryPage:
    rows: list[ImportJob]
    page: int
    has_next: bool


def history(db: Session, page: int) -> HistoryPage:
    """Every import, newest first (uploads are not branch data: whoever may import sees them all)."""
    rows = list(db.scalars(select(ImportJob).order_by(ImportJob.id.desc())
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return HistoryPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def job(db: Session, job_id: int) -> ImportJob | None:
    return db.get(ImportJob, job_id)


def counts(summary: dict[str, Any] | None) -> dict[str, int]:
    """The numbers of a job's summary (zeros before the first chunk); `rejected_rows` also for summaries
    written before that field existed."""
    s = summary or {}
    rejected = s.get("rejected", [])
    out = {k: int(s.get(k, 0)) for k in ("rows", "imported", "updated", "unchanged", "excluded", "tasks_created",
                                         "held", "holds_added", "holds_released")}
    out["rejected_rows"] = int(s.get("rejected_rows", len({r["row"] for r in rejected})))
    out["errors"] = int(s.get("errors", len(rejected)))
    return out


@dataclass(frozen=True)
class HeldRow:
    policy_no: str
    applicant: str
    phone: str
    branch: str
    reason: str  # kit.vocab.HoldReason value
    detail: str  # zh-CN, as the phone rules wrote it
    since: datetime
    deadline: date
    case_id: int | None  # the open verification case of the task


@dataclass(frozen=True)
class HeldPage:
    rows: list[HeldRow]
    page: int
    has_next: bool


def held_page(db: Session, actor: Actor, page: int) -> HeldPage:
    """Tasks held by the phone rules (active holds), newest first, each with its open verification case."""
    case_id = (select(func.max(Case.id)).where(Case.task_id == CallbackTask.id,
                                                Case.type == CaseType.VERIFICATION_CASE, Case.closed_at.is_(None))
               .correlate(CallbackTask).scalar_subquery())
    stmt = (select(Policy.policy_no, Policy.applicant_name, Policy.applicant_phone, Branch.name, TaskHold.reason,
                   TaskHold.detail, TaskHold.created_at, CallbackTask.deadline, case_id)
            .join(CallbackTask, CallbackTask.id == TaskHold.task_id)
            .join(Policy, Policy.id == CallbackTask.policy_id)
            .join(Branch, Branch.id == Policy.branch_id)
            .where(TaskHold.released_at.is_(None))
            .order_by(TaskHold.created_at.desc(), TaskHold.id.desc())
            .offset((page - 1) * HELD_PAGE_SIZE).limit(HELD_PAGE_SIZE + 1))
    found = db.execute(scoped(stmt, actor, Policy.branch_id, joined=True)).all()
    rows = [HeldRow(r[0], r[1], r[2], r[3], str(r[4]), r[5], r[6], r[7], r[8]) for r in found[:HELD_PAGE_SIZE]]
    return HeldPage(rows, page, len(found) > HELD_PAGE_SIZE)
