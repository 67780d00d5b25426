"""Read models of cases for every front door (CLI JSON, console, API): typed, with one SLA truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cases.sla import case_status
from kit.clock import isoformat_local
from storage.models import Case
from storage.repositories import cases as case_repo


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    who: str
    action: str
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"at": isoformat_local(self.at), "who": self.who, "action": self.action, "note": self.note}


@dataclass(frozen=True)
class CaseView:
    id: int
    type: str
    reason: str
    branch_code: str
    status: str
    sla_status: str  # at the time of the read (cases.sla.case_status): the same rule lists filter on
    created_at: datetime
    due_at: datetime
    detail: str
    closed_at: datetime | None
    assigned_to: str | None
    version: int  # what a form sends back: a stale one is refused
    policy_id: int = 0
    resolution_action: str | None = None
    overdue_explanation: str | None = None
    history: list[HistoryLine] = field(default_factory=list)

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "type": self.type, "reason": self.reason, "branch_code": self.branch_code,
            "status": self.status, "sla_status": self.sla_status, "created_at": isoformat_local(self.created_at),
            "due_at": isoformat_local(self.due_at), "detail": self.detail,
            "closed_at": isoformat_local(self.closed_at) if self.closed_at else None, "version": self.version,
        }
        if detail:
            data.update({"assigned_to": self.assigned_to, "resolution_action": self.resolution_action,
                         "overdue_explanation": self.overdue_explanation,
                         "history": [h.to_json() for h in self.history]})
        return data


def case_view(case: Case, branch_code: str, now: datetime) -> CaseView:
    return CaseView(
        id=case.id, type=case.type.value, reason=case.reason, branch_code=branch_code, status=case.status.value,
        sla_status=case_status(now=now, warn=case.warn_at, due=case.due_at, closed_at=case.closed_at).value,
        created_at=case.created_at, due_at=case.due_at, detail=case.detail, closed_at=case.closed_at,
        assigned_to=case.assigned_to, version=case.version_id, policy_id=case.policy_id,
        resolution_action=case.resolution_action,
        overdue_explanation=case.overdue_explanation)


def case_detail(session: Session, case: Case, branch_code: str, now: datetime) -> CaseView:
    """The case with its history (who, when, what)."""
    view = case_view(case, branch_code, now)
    history = [HistoryLine(e.at, e.who, e.action, e.note) for e in case_repo.events(session, case.id)]
    return CaseView(**{**view.__dict__, "history": history})
