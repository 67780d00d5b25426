"""The imports desk's reads: the import history (every upload: who, when, file, SHA-256, counts), one job, and the
tasks held for their phone (重复号码 / 电话有误) with their verification case, through the actor's branch scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.actor import Actor
from kit.vocab import HoldReason, TaskStatus
from storage.models import Branch, CallbackTask, Case, ImportJob, Policy, TaskHold
from storage.scope import scoped

Q = TypeVar("Q", bound="Select[Any]")
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
    branch_code: str
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
    total: int


def held_page(db: Session, actor: Actor, page: int, *, reason: HoldReason | None = None,
              branch: str | None = None) -> HeldPage:
    """Every task held now for its phone, whoever held it (any upload, the CLI import, the dialer's refused
    number): a hold not released on a task whose status is held — a hold left on a task completed or cancelled
    meanwhile holds nothing. Newest hold first, each with the task's open verification case; filtered by
    `reason` and `branch` (a branch code), always within the actor's branches."""
    conditions = [TaskHold.released_at.is_(None), CallbackTask.status == TaskStatus.HELD]
    if reason is not None:
        conditions.append(TaskHold.reason == reason)
    if branch is not None:
        conditions.append(Branch.code == branch)

    def held(stmt: Q) -> Q:
        stmt = (stmt.join(CallbackTask, CallbackTask.id == TaskHold.task_id)
                .join(Policy, Policy.id == CallbackTask.policy_id)
                .join(Branch, Branch.id == Policy.branch_id)
                .where(*conditions))
        return scoped(stmt, actor, Policy.branch_id, joined=True)

    case_id = (select(func.max(Case.id)).where(Case.task_id == CallbackTask.id,
                                                Case.type == CaseType.VERIFICATION_CASE, Case.closed_at.is_(None))
               .correlate(CallbackTask).scalar_subquery())
    stmt = held(select(Policy.policy_no, Policy.applicant_name, Policy.applicant_phone, Branch.name, Branch.code,
                       TaskHold.reason, TaskHold.detail, TaskHold.created_at, CallbackTask.deadline, case_id)
                .select_from(TaskHold))
    found = db.execute(stmt.order_by(TaskHold.created_at.desc(), TaskHold.id.desc())
                       .offset((page - 1) * HELD_PAGE_SIZE).limit(HELD_PAGE_SIZE + 1)).all()
    total = db.scalar(held(select(func.count()).select_from(TaskHold))) or 0
    rows = [HeldRow(r[0], r[1], r[2], r[3], r[4], str(r[5]), r[6], r[7], r[8], r[9]) for r in found[:HELD_PAGE_SIZE]]
    return HeldPage(rows, page, len(found) > HELD_PAGE_SIZE, total)
