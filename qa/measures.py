"""What the reviews measure (first opinions only): how often the robot heard an answer right, false yes / false
no, whether the result class was right; by topic, language, model and channel; and case handling by branch."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kit.actor import Actor
from qa.reviews import REVIEWERS
from qa.sampling import parse_period
from storage.models import QaReview
from storage.repositories import qa as qa_repo


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


@dataclass
class _Tally:
    marked: int = 0
    right: int = 0
    false_yes: int = 0
    false_no: int = 0

    def add(self, mark: dict[str, Any]) -> None:
        self.marked += 1
        if mark.get("correct"):
            self.right += 1
        elif (mark.get("heard"), mark.get("actual")) == ("yes", "no"):
            self.false_yes += 1
        elif (mark.get("heard"), mark.get("actual")) == ("no", "yes"):
            self.false_no += 1

    def row(self, key: str) -> Breakdown:
        return Breakdown(key, self.marked, self.right, self.false_yes, self.false_no)


UNKNOWN = "unknown"


def _rows(tallies: dict[str, _Tally]) -> list[Breakdown]:
    return [tallies[key].row(key) for key in sorted(tallies)]


def measures(session: Session, actor: Actor, period: str) -> QaMeasures:
    """The period's measures from the first opinions on its samples (a second opinion is not counted)."""
    actor.require(REVIEWERS, "read the quality measures")
    parse_period(period)
    call_reviews = qa_repo.first_reviews(session, actor, period, "call")
    models = qa_repo.answer_models(session, {s.call_id for _, s, _ in call_reviews if s.call_id is not None})
    total = _Tally()
    groups: dict[str, dict[str, _Tally]] = {name: defaultdict(_Tally) for name in ("topic", "language", "model",
                                                                                     "channel")}
    right_class = judged = 0
    for review, sample, _ in call_reviews:
        if review.result_correct is not None:
            judged += 1
            right_class += bool(review.result_correct)
        for mark in review.marks or []:
            model = models.get((sample.call_id or 0, int(mark.get("event_seq") or 0))) or review.model or UNKNOWN
            keys = {"topic": mark.get("topic") or UNKNOWN, "language": review.language or UNKNOWN, "model": model,
                    "channel": review.channel or UNKNOWN}
            total.add(mark)
            for name, key in keys.items():
                groups[name][str(key)].add(mark)
    scores: dict[str, list[QaReview]] = defaultdict(list)
    for review, _, code in qa_repo.first_reviews(session, actor, period, "case"):
        scores[code].append(review)
    case_scores = [CaseScore(code, len(found), sum(bool(r.followed_rules) for r in found),
                             _average([r.score for r in found if r.score is not None]))
                   for code, found in sorted(scores.items())]
    return QaMeasures(period, total.row("").accuracy, total.false_yes, total.false_no,
                      round(right_class / judged, 4) if judged else None, total.marked, len(call_reviews),
                      _rows(groups["topic"]), _rows(groups["language"]), _rows(groups["model"]),
                      _rows(groups["channel"]), case_scores)


def _average(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
