"""Quality-inspection queries: the populations a sample is drawn from, the reviewer's list, the reviews."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.actor import Actor
from kit.vocab import CaseStatus
from storage.models import Branch, Call, CallEvent, Case, Policy, QaReview, QaSample
from storage.scope import scoped


@dataclass(frozen=True)
class Candidate:
    id: int  # a call's or a case's
    branch_id: int
    branch_code: str
    stratum: str


def unsampled_calls(session: Session, start: datetime, end: datetime) -> list[Candidate]:
    """Calls with a result class finished in [start, end) and never sampled, with their branch and stratum."""
    stmt = (select(Call.id, Branch.id, Branch.code, Call.result_class, Call.channel)
            .join(Policy, Policy.id == Call.policy_id).join(Branch, Branch.id == Policy.branch_id)
            .outerjoin(QaSample, QaSample.call_id == Call.id)
            .where(Call.result_class.is_not(None), Call.finished_at >= start, Call.finished_at < end,
                   QaSample.id.is_(None))
            .order_by(Call.id))
    return [Candidate(i, b, code, f"{result}/{channel}")
            for i, b, code, result, channel in session.execute(stmt)]


def unsampled_closed_cases(session: Session, start: datetime, end: datetime,
                           types: Collection[CaseType]) -> list[Candidate]:
    """Cases of these types closed by their branch in [start, end) (not closed by a re-classification), never
    sampled."""
    stmt = (select(Case.id, Branch.id, Branch.code, Case.type)
            .join(Branch, Branch.id == Case.branch_id)
            .outerjoin(QaSample, QaSample.case_id == Case.id)
            .where(Case.status == CaseStatus.CLOSED, Case.closed_at >= start, Case.closed_at < end,
                   Case.type.in_(list(types)), func.coalesce(Case.resolution_action, "") != "reclassified",
                   QaSample.id.is_(None))
            .order_by(Case.id))
    return [Candidate(i, b, code, case_type.value) for i, b, code, case_type in session.execute(stmt)]


def sample_with_branch(session: Session, actor: Actor, sample_id: int, *, lock: bool = False) -> tuple[QaSample, str] | None:
    stmt = select(QaSample, Branch.code).join(Branch, Branch.id == QaSample.branch_id).where(QaSample.id == sample_id)
    if lock:
        stmt = stmt.with_for_update(of=QaSample)
    row = session.execute(scoped(stmt, actor, QaSample.branch_id, joined=True)).one_or_none()
    return None if row is None else (row[0], row[1])


def reviews(session: Session, sample_id: int) -> list[QaReview]:
    return list(session.scalars(select(QaReview).where(QaReview.sample_id == sample_id).order_by(QaReview.id)))


def list_statement(actor: Actor, *, period: str | None, kind: str | None, reviewed: bool | None,
                   branch: str | None) -> Select[Any]:
    """The reviewer's list: each sample with its branch, policy, call or case, and how many reviews it has."""
    review_count = (select(func.count(QaReview.id)).where(QaReview.sample_id == QaSample.id)
                    .correlate(QaSample).scalar_subquery())
    stmt = (select(QaSample, Branch.code, Policy.policy_no, Call.call_sid, Call.result_class, review_count)
            .join(Branch, Branch.id == QaSample.branch_id)
            .outerjoin(Call, Call.id == QaSample.call_id).outerjoin(Case, Case.id == QaSample.case_id)
            .join(Policy, Policy.id == func.coalesce(Call.policy_id, Case.policy_id)))
    if period:
        stmt = stmt.where(QaSample.period == period)
    if kind:
        stmt = stmt.where(QaSample.kind == kind)
    if reviewed is not None:
        stmt = stmt.where(QaSample.reviewed_at.is_not(None) if reviewed else QaSample.reviewed_at.is_(None))
    if branch:
        stmt = stmt.where(Branch.code == branch)
    return scoped(stmt, actor, QaSample.branch_id, joined=True)


def first_reviews(session: Session, actor: Actor, period: str, kind: str) -> list[tuple[QaReview, QaSample, str]]:
    """The first opinions on the period's samples of this kind, with the sample and its branch code."""
    stmt = (select(QaReview, QaSample, Branch.code).join(QaSample, QaSample.id == QaReview.sample_id)
            .join(Branch, Branch.id == QaSample.branch_id)
            .where(QaSample.period == period, QaSample.kind == kind, QaReview.opinion == "first")
            .order_by(QaReview.id))
    return [(r, s, code) for r, s, code in session.execute(scoped(stmt, actor, QaSample.branch_id, joined=True))]


def answer_models(session: Session, call_ids: Collection[int]) -> dict[tuple[int, int], str]:
    """(call id, event seq) → the model that heard the answer, where the answer event kept it."""
    if not call_ids:
        return {}
    stmt = select(CallEvent.call_id, CallEvent.seq, CallEvent.detail).where(
        CallEvent.call_id.in_(sorted(call_ids)), CallEvent.kind == "answer")
    return {(call_id, seq): str(detail["model"]) for call_id, seq, detail in session.execute(stmt)
            if isinstance(detail, dict) and detail.get("model")}
