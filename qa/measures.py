"""What the reviews measure (first opinions only): how often the robot heard an answer right, false yes / false
no, whether the result class was right; by topic, language, model and channel; and case handling by branch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kit.actor import Actor


@dataclass(frozen=True)
class Breakdown:
    key: str
    marked: int  # answers marked right or wrong
    right: int
    false_yes: int  # heard yes, the caller said no
    false_no: int  # heard no, the caller said yes

    @property
    def accuracy(self) -> float | None:
        return round(self.right / self.marked, 4) if self.marked else None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "marked": self.marked, "right": self.right, "accuracy": self.accuracy,
                "false_yes": self.false_yes, "false_no": self.false_no}


@dataclass(frozen=True)
class CaseScore:
    branch: str
    reviewed: int
    followed_rules: int
    average_score: float | None

    def to_json(self) -> dict[str, Any]:
        return {"branch": self.branch, "reviewed": self.reviewed, "followed_rules": self.followed_rules,
                "average_score": self.average_score}


@dataclass(frozen=True)
class QaMeasures:
    period: str
    answer_accuracy: float | None
    false_yes: int
    false_no: int
    classification_accuracy: float | None
    reviewed_answers: int
    reviewed_calls: int
    by_topic: list[Breakdown] = field(default_factory=list)
    by_language: list[Breakdown] = field(default_factory=list)
    by_model: list[Breakdown] = field(default_factory=list)
    by_channel: list[Breakdown] = field(default_factory=list)
    case_scores: list[CaseScore] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "answer_accuracy": self.answer_accuracy, "false_yes": self.false_yes,
                "false_no": self.false_no, "classification_accuracy": self.classification_accuracy,
                "reviewed_answers": self.reviewed_answers, "reviewed_calls": self.reviewed_calls,
                "by_topic": [b.to_json() for b in self.by_topic],
                "by_language": [b.to_json() for b in self.by_language],
                "by_model": [b.to_json() for b in self.by_model],
                "by_channel": [b.to_json() for b in self.by_channel],
                "case_scores": [c.to_json() for c in self.case_scores]}


def measures(session: Session, actor: Actor, period: str) -> QaMeasures:
    raise NotImplementedError
