"""The quality desk's page reads: the reviewer's list (qa.queries.samples) with the words staff read, and the review
pages (qa.reviews.call_review_view / case_review_view) with the whole-call recording's player, played from this
page (`for=qa:<sample id>`, audited as every playback is)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.labels import zh
from console.recordings.queries import RecordingView, view_of
from kit.actor import Actor
from qa import queries as qa_queries
from qa.reviews import (
    REVIEWERS,
    AnswerItem,
    CallReviewView,
    CaseReviewView,
    call_review_view,
    case_review_view,
)
from recordings.store import RecordingStore
from storage.models import Branch, Call, QaSample, Recording

KIND_ZH = {"call": "回访通话", "case": "问题件"}
STATUS_ZH = {"pending": "待复核", "reviewed": "已复核"}


def branches(db: Session) -> dict[str, str]:
    """Every branch's code → name (the list's filter and columns)."""
    return {code: name for code, name in db.execute(select(Branch.code, Branch.name).order_by(Branch.code))}


def stratum_zh(kind: str, stratum: str) -> str:
    """A sample's stratum as staff read it: a call's "standard/phone" → 标准件 / 电话回访; a case's type."""
    if kind == "case":
        return zh(stratum, "case_type")
    result, _, channel = stratum.partition("/")
    return f"{zh(result, 'result')} / {zh(channel, 'callback_channel')}" if channel else zh(result, "result")


@dataclass(frozen=True)
class ListRow:
    sample: qa_queries.SampleRow
    stratum_zh: str


@dataclass(frozen=True)
class ListPage:
    """A page of the list, as console/_pager.html reads it."""

    rows: list[ListRow]
    page: int
    has_next: bool
    total: int


def list_page(db: Session, actor: Actor, *, period: str | None, kind: str | None, status: str | None,
              branch: str | None, page: int) -> ListPage:
    found = qa_queries.samples(db, actor, period=period, kind=kind, status=status, branch=branch, page=page)
    rows = [ListRow(row, stratum_zh(row.kind, row.stratum)) for row in found.items]
    return ListPage(rows, found.page, found.page < found.pages, found.total)


def sampled_policy(db: Session, actor: Actor, sample_id: int) -> int | None:
    """The policy of a sampled call, for a reviewer playing its recording from the review page
    (console.recordings.queries.origin `qa:<id>`); None when there is none or the actor reviews nothing."""
    if not actor.has(REVIEWERS):
        return None
    sample = db.get(QaSample, sample_id)
    call = db.get(Call, sample.call_id) if sample is not None and sample.call_id is not None else None
    return call.policy_id if call is not None else None


def offset_text(seconds: float | None) -> str:
    """12.4 → 0:12 (where an answer is in the recording)."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def branch_name(db: Session, code: str) -> str:
    """110100 → 110100 北京分公司 (the code alone when the branch has no name)."""
    name = db.scalars(select(Branch.name).where(Branch.code == code)).first()
    return f"{code} {name}" if name else code


@dataclass(frozen=True)
class CallPage:
    view: CallReviewView
    recording: RecordingView | None  # the whole-call recording (the first of the call's)
    reviewed_by_me: bool
    branch: str  # code and name

    @property
    def answers(self) -> list[AnswerItem]:
        return self.view.answers

    @property
    def model(self) -> str | None:
        """The recogniser that heard the answers (the first one the IVR kept)."""
        return next((a.model for a in self.view.answers if a.model), None)

    @property
    def can_review(self) -> bool:
        return not self.reviewed_by_me


def _reviewed_by(view: CallReviewView | CaseReviewView, actor: Actor) -> bool:
    return any(r.reviewer == actor.user for r in view.reviews)


def call_page(db: Session, actor: Actor, sample_id: int, files: RecordingStore) -> CallPage:
    """The review page of a sampled call (NotAllowed for those who do not review; SampleNotFound)."""
    view = call_review_view(db, actor, sample_id)
    recording = None
    call = db.get(Call, view.call_id)
    if view.recordings and call is not None:
        stored = db.scalars(select(Recording).where(Recording.recording_sid == view.recordings[0].recording_sid)).one()
        recording = view_of(files, actor, call, stored, f"qa:{sample_id}")
    return CallPage(view, recording, _reviewed_by(view, actor), branch_name(db, view.policy.branch_code))


def heard_answers(db: Session, actor: Actor, sample_id: int) -> list[tuple[int, str | None]]:
    """The answers the review form marks: each event seq and what the robot heard."""
    return [(a.seq, a.heard) for a in call_review_view(db, actor, sample_id).answers]


@dataclass(frozen=True)
class CasePage:
    view: CaseReviewView
    reviewed_by_me: bool
    branch: str  # code and name

    @property
    def can_review(self) -> bool:
        return not self.reviewed_by_me


def case_page(db: Session, actor: Actor, sample_id: int, now: datetime) -> CasePage:
    """The review page of a sampled case (its SLA as of `now`)."""
    view = case_review_view(db, actor, sample_id, now=now)
    return CasePage(view, _reviewed_by(view, actor), branch_name(db, view.policy.branch_code))
