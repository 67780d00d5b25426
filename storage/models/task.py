"""Callback tasks (one per policy that needs a callback) and the holds that keep a task from being dialled."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flows.vocab import ResultClass
from kit.vocab import CallbackChannel, HoldReason, HoldSource, QuestionnaireVariant, TaskStatus
from storage.base import Base, IdMixin, TimestampMixin, enum_column


class CallbackTask(IdMixin, TimestampMixin, Base):
    __tablename__ = "callback_tasks"
    __table_args__ = (
        # the dashboard: today's completions, the tasks at risk by deadline; the monthly KPIs' tasks due
        Index("ix_callback_tasks_completed_at", "completed_at"),
        Index("ix_callback_tasks_deadline", "deadline"),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), unique=True)
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus), index=True)
    opens_on: Mapped[date]
    deadline: Mapped[date]
    questionnaire_variant: Mapped[QuestionnaireVariant] = mapped_column(enum_column(QuestionnaireVariant))
    # the channel the callback is on now (channels.sequence); the dialer claims only phone tasks
    channel: Mapped[CallbackChannel] = mapped_column(enum_column(CallbackChannel), default=CallbackChannel.PHONE,
                                                     server_default=CallbackChannel.PHONE.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    result_class: Mapped[ResultClass | None] = mapped_column(enum_column(ResultClass))
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    completed_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]  # a time the customer (or the branch) booked
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the dialer that holds the task
    claimed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    confirming_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", use_alter=True))  # 二次回访 for
    version_id: Mapped[int] = mapped_column(default=1, server_default="1")  # optimistic locking: a stale write fails

    __mapper_args__ = {"version_id_col": version_id}


class TaskHold(IdMixin, Base):
    __tablename__ = "task_holds"

    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    reason: Mapped[HoldReason] = mapped_column(enum_column(HoldReason))
    detail: Mapped[str] = mapped_column(String(255))  # zh-CN, read by branch staff
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    release_note: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[HoldSource] = mapped_column(enum_column(HoldSource), default=HoldSource.INTAKE,
                                               server_default=HoldSource.INTAKE.value)
    phone: Mapped[str | None] = mapped_column(String(32))  # the number a dialer hold is about
