"""Policies with queued callback tasks, imported through the real intake, for the integration tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.clock import FrozenClock
from kit.settings import Settings
from storage.models import CallbackTask, IntegrationEvent, Policy
from tests.factories import policy_row
from tests.intake.test_service import make


def import_policies(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                    numbers: list[str], **fields: str) -> None:
    """Import `numbers` (committed), each with a queued task; the intake's own events are cleared."""
    make(session, tmp_path, settings, clock)([policy_row(policy_no=no, **fields) for no in numbers])
    session.query(IntegrationEvent).delete()
    session.commit()


def task_of(session: Session, policy_no: str) -> CallbackTask:
    return session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()


def events(session: Session, type: str | None = None) -> list[IntegrationEvent]:
    stmt = select(IntegrationEvent).order_by(IntegrationEvent.id)
    if type is not None:
        stmt = stmt.where(IntegrationEvent.type == type)
    return list(session.scalars(stmt))
