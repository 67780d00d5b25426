"""Quality inspection (质检, issue 19): the monthly sample of completed callbacks and closed problem cases, and
the reviewers' findings on each (docs/domain.md §10)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, IdMixin


class QaSample(IdMixin, Base):
    """One call or one case drawn for review. A call or a case is never drawn twice, whatever the period."""

    __tablename__ = "qa_samples"

    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM: the month the callbacks were finished in
    kind: Mapped[str] = mapped_column(String(8))  # call | case
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(64))  # calls: "<result_class>/<channel>"; cases: the case type
    seed: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime]
    drawn_by: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None]  # the first review
    version_id: Mapped[int] = mapped_column(default=1, server_default="1")  # optimistic locking: a stale form fails

    __mapper_args__ = {"version_id_col": version_id}


class QaReview(IdMixin, Base):
    """A reviewer's finding on a sample: the first opinion counts (and may re-classify), a second is kept."""

    __tablename__ = "qa_reviews"

    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    opinion: Mapped[str] = mapped_column(String(8))  # first | second
    # calls: [{"event_seq", "topic", "heard", "correct", "actual"}] in the input vocabulary (flows.engine.InputKind)
    marks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    result_correct: Mapped[bool | None]  # calls
    result_before: Mapped[str | None] = mapped_column(String(16))
    result_after: Mapped[str | None] = mapped_column(String(16))  # set when this review re-classified the task
    followed_rules: Mapped[bool | None]  # cases
    score: Mapped[int | None]  # cases, 0-100
    remarks: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(128))  # calls: the recogniser that heard the answers
    channel: Mapped[str | None] = mapped_column(String(16))
