"""People who sign in to the console, with their roles and branches (kit.actor)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters and salt
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # kit.actor.Role values
    branches: Mapped[list[str]] = mapped_column(JSON, default=list)  # branch codes (branch and agent roles)
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)  # in a row, since the last good one
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # an agent's line: the dial target (ivr.agent_target, exactly) a hand-off rings to reach this person; the
    # agent desk shows the calls handed to it (calls.handoff_target)
    agent_line: Mapped[str | None] = mapped_column(String(128))
