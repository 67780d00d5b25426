"""State the dialer processes share through the database: the account's pacing, when each run-once job last
ran (storage.jobs, storage.repositories.pacing), the supervisors' pauses of calling and each dialer's
heartbeat (dialer.controls, dialer.status)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kit.vocab import ProductType
from storage.base import Base, IdMixin, enum_column


class DialerPacing(Base):
    """One row per telephony account: the earliest time the next call may be placed. Taken under a row lock
    in a short transaction before each placement, so every dialer process shares the account's CPS."""

    __tablename__ = "dialer_pacing"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Twilio account SID ('default' unset)
    next_slot_at: Mapped[datetime]  # on the database's clock
    updated_at: Mapped[datetime]


class JobRun(Base):
    """A job that runs once per interval across all processes: when it last started and finished, and where."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]  # on the database's clock
    finished_at: Mapped[datetime | None]
    runner: Mapped[str] = mapped_column(String(64))  # host:pid of the process that ran it last


class DialerPause(IdMixin, Base):
    """A pause of calling for all tasks, one branch, one product type or a branch's product type (dialer.controls).
    In force while `resumed_at` is empty; kept when resumed, as the history of who stopped and restarted calling
    and why. One pause in force per scope (the unique partial index on `scope`)."""

    __tablename__ = "dialer_pauses"
    __table_args__ = (Index("uq_dialer_pauses_scope_in_force", "scope", unique=True,
                            sqlite_where=text("resumed_at IS NULL"), postgresql_where=text("resumed_at IS NULL")),)

    scope: Mapped[str] = mapped_column(String(80))  # "branch=110100;product_type=*": the scope as one key
    branch_code: Mapped[str | None] = mapped_column(String(32))  # None: every branch
    product_type: Mapped[ProductType | None] = mapped_column(enum_column(ProductType))  # None: every product type
    reason: Mapped[str] = mapped_column(Text)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(index=True)
    resumed_by: Mapped[str | None] = mapped_column(String(64))
    resumed_at: Mapped[datetime | None]
    resume_reason: Mapped[str | None] = mapped_column(Text)


class DialerHeartbeat(Base):
    """One row per dialer process (host:pid), written at the end of each of its ticks: what `huifang dialer
    status` and the console's dialer page show. Rows not written for a day are not shown, and removed when a dialer starts."""

    __tablename__ = "dialer_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid, as it claims tasks
    started_at: Mapped[datetime]
    last_tick_at: Mapped[datetime]  # the business clock
    ticks_every_s: Mapped[int | None]  # its tick interval; None: a one-off run (--once, --drain)
    in_flight: Mapped[int]  # its claims being dialled or on a call under a live lease
    placed: Mapped[int]  # calls placed in its last tick
    paused: Mapped[int]  # pauses in force at its last tick
    backoff_until: Mapped[datetime | None]
    cps: Mapped[float] = mapped_column(Float)  # calls placed in the last minute / 60
    cps_limit: Mapped[float] = mapped_column(Float)  # dialer.calls_per_second (the account's, shared)
