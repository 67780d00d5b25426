"""Reviews of sampled calls and cases: what the reviewer found, and its consequences (a re-classification)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from calls.context import CallContext
from calls.views import CallView
from cases.views import CaseView, HistoryLine
from console.transcript import Line
from kit.actor import Actor, Role
from storage.models import QaReview

REVIEWERS = frozenset({Role.QA, Role.SUPERVISOR, Role.OPERATOR})
STALE = "此抽样已被他人更新，请刷新"
ALREADY_REVIEWED = "已复核"
ACTUAL_INPUTS = ("yes", "no", "repeat", "human", "unknown", "silence", "digits")  # what a caller may have said


class ReviewRefused(Exception):
    """The review cannot be taken; the message (Chinese) is for the page."""


class SampleNotFound(LookupError):
    """No such sample (or not of the kind asked for)."""


@dataclass(frozen=True)
class AnswerMark:
    event_seq: int
    correct: bool
    actual: str | None = None  # what the caller really said, when the robot heard it wrong


@dataclass(frozen=True)
class SampleHead:
    id: int
    version: int  # what the form sends back: a stale one is refused
    period: str
    kind: str  # call | case
    branch_code: str
    stratum: str
    drawn_at: datetime
    reviewed_at: datetime | None


@dataclass(frozen=True)
class ReviewLine:
    id: int
    reviewer: str
    at: datetime
    opinion: str  # first | second
    marks: list[dict[str, object]]
    result_correct: bool | None
    result_before: str | None
    result_after: str | None
    followed_rules: bool | None
    score: int | None
    remarks: str


@dataclass(frozen=True)
class PolicyBrief:
    """The policy as a reviewer sees it: masked names and ID number."""

    policy_no: str
    product_name: str
    applicant_name: str  # masked: 张**
    applicant_id_no: str  # masked: 370102********1234
    branch_code: str


@dataclass(frozen=True)
class RecordingItem:
    recording_sid: str  # the console plays /console/recordings/<sid>/audio
    status: str
    duration_s: int | None


@dataclass(frozen=True)
class AnswerItem:
    """One answer the robot heard, with where it is in the whole-call recording."""

    seq: int  # the call event's seq: the mark's event_seq
    topic: str | None
    topic_zh: str
    heard: str  # the input vocabulary: yes | no | repeat | human | unknown | silence | digits
    text: str  # the words recognised (or "" for keys)
    confidence: float | None
    offset_s: float | None  # seconds into the whole-call recording (the event's time minus answered_at)
    model: str | None  # the recogniser's model directory, when the IVR kept it


@dataclass(frozen=True)
class CallReviewView:
    sample: SampleHead
    call: CallView
    call_id: int
    language: str | None
    channel: str
    policy: PolicyBrief
    recordings: list[RecordingItem]
    answers: list[AnswerItem]
    transcript: list[Line]
    result_class: str | None
    reason_codes: list[str]
    reasons_zh: list[str]
    reviews: list[ReviewLine] = field(default_factory=list)


@dataclass(frozen=True)
class CaseReviewView:
    sample: SampleHead
    case: CaseView
    history: list[HistoryLine]
    policy: PolicyBrief
    reviews: list[ReviewLine] = field(default_factory=list)


def review_call(session: Session, ctx: CallContext, actor: Actor, sample_id: int, marks: list[AnswerMark],
                result_correct: bool, remarks: str, *, version: int) -> QaReview:
    raise NotImplementedError


def review_case(session: Session, actor: Actor, sample_id: int, followed_rules: bool, score: int, remarks: str,
                *, version: int) -> QaReview:
    raise NotImplementedError


def call_review_view(session: Session, actor: Actor, sample_id: int) -> CallReviewView:
    raise NotImplementedError


def case_review_view(session: Session, actor: Actor, sample_id: int) -> CaseReviewView:
    raise NotImplementedError
