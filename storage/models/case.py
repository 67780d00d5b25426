"""Problem cases (work orders, 工单) in a branch's queue, each with an SLA due time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from flows.vocab import CaseType
from kit.vocab import OPEN_CASE_STATUSES, CaseStatus, SlaStatus
from storage.base import Base, IdMixin, TimestampMixin, enum_column

OPEN_CASES = text(f"status IN ({', '.join(repr(s.value) for s in sorted(OPEN_CASE_STATUSES))})")


class Case(IdMixin, TimestampMixin, Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue (storage.repositories.cases.queue: its filters, processing order and page) and the SLA counts
        # over it, read from this index alone (an index-only scan) on PostgreSQL; only open cases are in it.
        Index("ix_cases_open_queue", "branch_id", "type", "created_at", "due_at", "warn_at", "closed_at",
              "assigned_to", "policy_id", "id", postgresql_where=OPEN_CASES, sqlite_where=OPEN_CASES),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)  # the call that raised it
    type: Mapped[CaseType] = mapped_column(enum_column(CaseType))
    reason: Mapped[str] = mapped_column(String(48))  # a reason code from the vocabulary
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), index=True)
    detail: Mapped[str] = mapped_column(Text)  # zh-CN, read by branch staff
    due_at: Mapped[datetime]
    warn_at: Mapped[datetime] = mapped_column(index=True)  # when the SLA turns warning (cases.sla.warn_at)
    sla_status: Mapped[SlaStatus] = mapped_column(enum_column(SlaStatus), default=SlaStatus.NORMAL,
                                                  server_default=SlaStatus.NORMAL.value, index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    overdue_explanation: Mapped[str | None] = mapped_column(Text)  # 逾期情况书面说明, filed before due_at
    overdue_explanation_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_action: Mapped[str | None] = mapped_column(String(48))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[int] = mapped_column(default=1, server_default="1")  # optimistic locking: a stale form fails

    __mapper_args__ = {"version_id_col": version_id}


class CaseEvent(IdMixin, Base):
    """A case's history: who did what, when (opened, SLA changes, assignments, actions)."""

    __tablename__ = "case_events"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    note: Mapped[str] = mapped_column(Text, default="")
