"""The append-only access audit trail (docs/domain.md §12): who, what, when and why, one line per access."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kit.actor import Actor
from storage.models import AuditEvent


def audit(session: Session, *, actor: Actor, action: str, target: str, now: datetime, reason: str = "",
          detail: str = "") -> None:
    """One line: the actor, the action (find | export | playback | purge | verify | dispute), what was asked
    for, when, why; `detail` names what it touched. Flushed; the caller commits."""
    session.add(AuditEvent(at=now, operator=actor.user, action=action, target=target[:255], reason=reason,
                           detail=detail))
    session.flush()
