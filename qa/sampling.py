"""The monthly quality sample (docs/domain.md §10): per branch, a reproducible random draw of the period's
completed callbacks, stratified by result class × callback channel with proportional allocation, and of its
closed problem cases. A call or a case already drawn (any period) is never drawn again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kit.actor import Actor, Role
from kit.settings import QaSettings

SAMPLERS = frozenset({Role.OPERATOR, Role.SYSTEM})  # the CLI and the dialer's job draw; reviewers do not


class SamplingError(ValueError):
    """A period or a rate the draw cannot take (the message says which)."""


@dataclass(frozen=True)
class SampleSettings:
    call_rate: float
    call_min: int
    case_rate: float
    case_min: int

    @classmethod
    def from_settings(cls, qa: QaSettings) -> SampleSettings:
        return cls(call_rate=qa.call_rate, call_min=qa.call_min, case_rate=qa.case_rate, case_min=qa.case_min)


@dataclass(frozen=True)
class DrawSummary:
    period: str
    calls: int
    cases: int
    by_branch: dict[str, dict[str, int]] = field(default_factory=dict)  # branch code → {"calls": n, "cases": n}

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "calls": self.calls, "cases": self.cases,
                "by_branch": {code: dict(counts) for code, counts in sorted(self.by_branch.items())}}


def draw(session: Session, actor: Actor, period: str, settings: SampleSettings, *, seed: str,
         now: datetime) -> DrawSummary:
    """Draw the period's sample and store it (flushed, not committed)."""
    raise NotImplementedError
