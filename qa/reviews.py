"""Reviews of sampled calls and cases: what the reviewer found, and its consequences (a re-classification)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from calls.context import CallContext
from calls.review import apply_review, heard_answers
from calls.transcript import Line, transcript
from calls.views import CallView, call_view
from cases.views import CaseView, HistoryLine, case_detail
from flows.review import HeardAnswer, effective
from flows.words_zh import REASON_ZH, TOPIC_ZH
from intake.identity import mask_id
from kit.actor import Actor, Role
from kit.clock import Clock
from storage.models import Call, Case, Policy, QaReview, QaSample
from storage.repositories import calls as call_repo
from storage.repositories import qa as qa_repo
from storage.repositories import recordings as recording_repo

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


def _sample(session: Session, actor: Actor, sample_id: int, kind: str, *, lock: bool = False) -> tuple[QaSample, str]:
    found = qa_repo.sample_with_branch(session, actor, sample_id, lock=lock)
    if found is None or found[0].kind != kind:
        raise SampleNotFound(f"no {kind} sample {sample_id}")
    return found


def _opinion(session: Session, actor: Actor, sample: QaSample, version: int) -> str:
    """first | second; refused when the form is stale or this reviewer has reviewed the sample already."""
    if sample.version_id != version:
        raise ReviewRefused(STALE)
    earlier = qa_repo.reviews(session, sample.id)
    if any(r.reviewer == actor.user for r in earlier):
        raise ReviewRefused(ALREADY_REVIEWED)
    return "second" if earlier else "first"


def heard_as(heard: str, digits: str) -> str:
    """What the robot took an answer for: a key on a yes/no question as the keypad reads it (1 → yes)."""
    kind = effective(heard, digits)
    return kind.value if kind is not None and heard == "digits" else heard


def _mark_rows(marks: list[AnswerMark], heard: dict[int, HeardAnswer]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    seen: set[int] = set()
    for mark in marks:
        answer = heard.get(mark.event_seq)
        if answer is None:
            raise ReviewRefused(f"第{mark.event_seq}条不是本通电话中的回答")
        if mark.event_seq in seen:
            raise ReviewRefused(f"第{mark.event_seq}条回答标注了两次")
        seen.add(mark.event_seq)
        actual = None
        if not mark.correct:
            if mark.actual not in ACTUAL_INPUTS:
                raise ReviewRefused(f"第{mark.event_seq}条回答标为错误时，请选择客户实际的回答")
            if mark.actual == heard_as(answer.heard, answer.digits):
                raise ReviewRefused(f"第{mark.event_seq}条回答：实际回答与机器人听到的相同，应标为正确")
            actual = mark.actual
        rows.append({"event_seq": mark.event_seq, "topic": answer.topic, "heard": heard_as(answer.heard, answer.digits),
                     "correct": mark.correct, "actual": actual})
    return rows


def _saved(session: Session, sample: QaSample, review: QaReview) -> QaReview:
    session.add(review)
    try:
        session.flush()
    except StaleDataError:  # another reviewer's first review was saved meanwhile
        raise ReviewRefused(STALE) from None
    return review


def model_name(path: str) -> str | None:
    """The recogniser's model as answer events name it: its directory's name (package:NAME → NAME)."""
    if not path:
        return None
    return path.removeprefix("package:").rstrip("/").rsplit("/", 1)[-1] or None


def review_call(session: Session, ctx: CallContext, actor: Actor, sample_id: int, marks: list[AnswerMark],
                result_correct: bool, remarks: str, *, version: int) -> QaReview:
    """A reviewer's marks on a sampled call. The first opinion re-classifies the call when its corrections
    change the result (calls.review); a second opinion (another reviewer) is kept and changes nothing."""
    actor.require(REVIEWERS, "review quality samples")
    sample, _ = _sample(session, actor, sample_id, "call", lock=True)
    opinion = _opinion(session, actor, sample, version)
    assert sample.call_id is not None
    call = session.get(Call, sample.call_id)
    assert call is not None
    heard = {a.seq: a for a in heard_answers(session, call.id)}
    rows = _mark_rows(marks, heard)
    now = ctx.clock.now()
    models = qa_repo.answer_models(session, [call.id])
    model = next((models[k] for k in sorted(models)), None) or model_name(ctx.settings.speech.vosk_model_path)
    before = call.result_class.value if call.result_class else None
    after = None
    if opinion == "first":
        corrections = {int(str(r["event_seq"])): str(r["actual"]) for r in rows if not r["correct"]}
        outcome = apply_review(session, ctx, call.id, corrections, reviewer=actor.user, remarks=remarks, now=now)
        after = outcome.after if outcome.reclassified else None
        sample.reviewed_at = now
    review = QaReview(sample_id=sample.id, reviewer=actor.user, at=now, opinion=opinion, marks=rows,
                      result_correct=result_correct, result_before=before, result_after=after,
                      remarks=remarks.strip(), language=call.language, model=model, channel=call.channel.value)
    return _saved(session, sample, review)


def review_case(session: Session, actor: Actor, sample_id: int, followed_rules: bool, score: int, remarks: str,
                *, version: int, clock: Clock) -> QaReview:
    """A reviewer's finding on a sampled closed case: whether its handling followed the rules, a score."""
    actor.require(REVIEWERS, "review quality samples")
    sample, _ = _sample(session, actor, sample_id, "case", lock=True)
    opinion = _opinion(session, actor, sample, version)
    if not 0 <= score <= 100:
        raise ReviewRefused("评分应在0到100之间")
    now = clock.now()
    if opinion == "first":
        sample.reviewed_at = now
    review = QaReview(sample_id=sample.id, reviewer=actor.user, at=now, opinion=opinion, marks=[],
                      followed_rules=followed_rules, score=score, remarks=remarks.strip())
    return _saved(session, sample, review)


def _head(sample: QaSample, code: str) -> SampleHead:
    return SampleHead(sample.id, sample.version_id, sample.period, sample.kind, code, sample.stratum,
                      sample.drawn_at, sample.reviewed_at)


def _review_lines(session: Session, sample_id: int) -> list[ReviewLine]:
    return [ReviewLine(r.id, r.reviewer, r.at, r.opinion, list(r.marks or []), r.result_correct, r.result_before,
                       r.result_after, r.followed_rules, r.score, r.remarks) for r in qa_repo.reviews(session, sample_id)]


def _policy(session: Session, policy_id: int, code: str) -> PolicyBrief:
    policy = session.get(Policy, policy_id)
    assert policy is not None
    name = policy.applicant_name
    return PolicyBrief(policy.policy_no, policy.product_name, name[:1] + "*" * max(len(name) - 1, 1),
                       mask_id(policy.applicant_id_no), code)


def call_review_view(session: Session, actor: Actor, sample_id: int) -> CallReviewView:
    """What the review page shows for a sampled call."""
    actor.require(REVIEWERS, "review quality samples")
    sample, code = _sample(session, actor, sample_id, "call")
    assert sample.call_id is not None
    call = session.get(Call, sample.call_id)
    assert call is not None
    events = call_repo.events(session, call.id)
    answers = [AnswerItem(e.seq, e.topic, TOPIC_ZH.get(e.topic or "", e.topic or ""),
                          heard_as(str((e.detail or {}).get("input") or ""), str((e.detail or {}).get("digits") or "")),
                          e.text,
                          _float((e.detail or {}).get("confidence")),
                          (e.at - call.answered_at).total_seconds() if call.answered_at else None,
                          str((e.detail or {}).get("model") or "") or None)
               for e in events if e.kind == "answer"]
    recordings = [RecordingItem(r.recording_sid, r.status.value, r.duration_s)
                  for r in recording_repo.for_call(session, call.id)]
    return CallReviewView(_head(sample, code), call_view(session, call), call.id, call.language, call.channel.value,
                          _policy(session, call.policy_id, code), recordings, answers, transcript(events),
                          call.result_class.value if call.result_class else None, list(call.reason_codes or []),
                          [REASON_ZH.get(c, c) for c in call.reason_codes or []], _review_lines(session, sample.id))


def case_review_view(session: Session, actor: Actor, sample_id: int, *, now: datetime) -> CaseReviewView:
    """What the review page shows for a sampled case: the case, its history, the reviews so far."""
    actor.require(REVIEWERS, "review quality samples")
    sample, code = _sample(session, actor, sample_id, "case")
    assert sample.case_id is not None
    case = session.get(Case, sample.case_id)
    assert case is not None
    view = case_detail(session, case, code, now)
    return CaseReviewView(_head(sample, code), view, view.history, _policy(session, case.policy_id, code),
                          _review_lines(session, sample.id))


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float | str) and str(value) else None
