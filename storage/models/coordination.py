"""State the dialer processes share through the database: the account's pacing and when each run-once job
last ran (storage.jobs, storage.repositories.pacing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


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
