"""The append-only access audit trail (docs/domain.md §12): who, what, when and why, one line per access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kit.actor import AUDIT_READERS, Actor
from kit.clock import business_start_of
from storage.models import AuditEvent
from storage.repositories import recordings as recording_repo


def audit(session: Session, *, actor: Actor, action: str, target: str, now: datetime, reason: str = "",
          detail: str = "") -> None:
    """One line: the actor, the action (find | export | playback | purge | verify | dispute), what was asked
    for, when, why; `detail` names what it touched. Flushed; the caller commits."""
    session.add(AuditEvent(at=now, operator=actor.user, action=action, target=target[:255], reason=reason,
                           detail=detail))
    session.flush()


@dataclass(frozen=True)
class TrailFilter:
    """Which lines of the trail to read: by user, action, what was touched (contained in the target or the
    detail) and business days (`until` inclusive)."""

    user: str | None = None
    action: str | None = None
    target: str | None = None
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items() if v is not None) or "all"

    def query(self) -> dict[str, Any]:
        return {"user": self.user, "action": self.action, "target": self.target,
                "at_from": business_start_of(self.since) if self.since else None,
                "at_before": business_start_of(self.until + timedelta(days=1)) if self.until else None}


def trail(session: Session, actor: Actor, filters: TrailFilter, *, limit: int, offset: int = 0) -> list[AuditEvent]:
    """The trail's lines matching `filters`, newest first (the audit readers only: compliance, admin, the
    operator). Reading it is not itself a line; exporting it is (the caller writes that)."""
    actor.require(AUDIT_READERS, "read the audit trail")
    return recording_repo.audit_events(session, limit, offset=offset, **filters.query())


def trail_count(session: Session, actor: Actor, filters: TrailFilter) -> int:
    actor.require(AUDIT_READERS, "read the audit trail")
    return recording_repo.audit_count(session, **filters.query())
