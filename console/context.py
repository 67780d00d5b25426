"""What the console's routes need, built once per process, and the signed-in actor of a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, session
from sqlalchemy.orm import Session, sessionmaker

from accounts.service import actor_of, by_name
from kit.actor import Actor
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from storage.db import unit_of_work as storage_unit_of_work


@dataclass
class ConsoleContext:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]


def context() -> ConsoleContext:
    ctx: ConsoleContext = current_app.extensions["huifang.console"]
    return ctx


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per request, rolled back unless the route says `session.commit()`."""
    with storage_unit_of_work(context().sessions) as db:
        yield db


def signed_in(db: Session) -> Actor | None:
    """The actor of this request: the account in the session cookie, still enabled (checked every request,
    so disabling an account ends its sessions)."""
    name = session.get("user")
    if not name:
        return None
    user = by_name(db, name)
    if user is None or user.disabled or user.password_changed_at.isoformat() != session.get("since"):
        session.clear()
        return None
    return actor_of(user)

