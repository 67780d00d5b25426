"""The quality desk (质检, docs/console.md): `GET /console/qa` (the reviewer's list: the sampled calls and cases,
filtered in the URL), `GET /console/qa/<sample_id>` (the review page of a call or a case) and
`POST /console/qa/<sample_id>/review` (the review, through qa.reviews: the same service as the CLI's). Roles qa
and supervisor; for everyone else the desk does not exist (404, as the services' NotAllowed says)."""

from __future__ import annotations

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.labels import zh
from console.qa.forms import ACTUALS, parse_call_review, parse_case_review, parse_list_query
from console.qa.queries import (
    KIND_ZH,
    STATUS_ZH,
    branches,
    call_page,
    case_page,
    heard_answers,
    list_page,
    offset_text,
)
from console.recordings.queries import recording_store
from kit.actor import Actor, NotAllowed
from qa.reviews import ReviewRefused, SampleNotFound, review_call, review_case
from storage.models import QaReview, QaSample

qa_desk = desk("qa", __name__)


@qa_desk.get("/qa", endpoint="list_page")
def list_view() -> str:
    query = parse_list_query(request.args)
    with unit_of_work() as db:
        actor = page_actor(db)
        try:
            result = list_page(db, actor, period=query.period, kind=query.kind, status=query.status,
                                        branch=query.branch, page=query.page)
        except NotAllowed:
            abort(404)
        names = branches(db)
    return render_template("console/qa/list.html", actor=actor, result=result, args=request.args,
                           errors=query.errors, kind_zh=KIND_ZH, status_zh=STATUS_ZH, branches=names,
                           messages=get_flashed_messages(with_categories=True))


def _sample(db: Session, sample_id: int) -> QaSample:
    sample = db.get(QaSample, sample_id)
    if sample is None:
        abort(404)
    return sample


def _page(db: Session, actor: Actor, sample_id: int, *, form: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    """The review page of a call or a case sample; after a refused form, with what the user sent and the messages
    beside the fields (`errors` keyed by field name, "" for the form as a whole)."""
    sample = _sample(db, sample_id)
    messages = get_flashed_messages(with_categories=True)
    try:
        if sample.kind == "call":
            html = render_template("console/qa/call.html", actor=actor,
                                   page=call_page(db, actor, sample_id, recording_store()), form=form or {},
                                   errors=errors or {}, messages=messages, actuals=ACTUALS,
                                   offset_text=offset_text)
        else:
            html = render_template("console/qa/case.html", actor=actor,
                                   page=case_page(db, actor, sample_id, context().clock.now()),
                                   form=form or {}, errors=errors or {}, messages=messages)
    except (NotAllowed, SampleNotFound):
        abort(404)
    return html, status


@qa_desk.get("/qa/<int:sample_id>", endpoint="sample_page")
def sample_view(sample_id: int) -> tuple[str, int]:
    with unit_of_work() as db:
        return _page(db, page_actor(db), sample_id)


def _done(review: QaReview) -> str:
    """The flash after a review: a second opinion, a re-classification (from which class to which), or kept."""
    if review.opinion == "second":
        return "已记录为第二意见（复核以首次意见为准，不改变回访结果，也不计入质检指标）"
    if review.result_before and review.result_after and review.result_before != review.result_after:
        return (f"已提交复核：回访结果由“{zh(review.result_before, 'result')}”改为“{zh(review.result_after, 'result')}”，"
                "相应的问题件工单已按新结果开立或关闭")
    return "已提交复核"


@qa_desk.post("/qa/<int:sample_id>/review", endpoint="review")
def review_route(sample_id: int) -> Response | tuple[str, int]:
    """The review of a call (marks per answer, result correct, remarks) or of a case (followed the rules, score,
    remarks), with the sample's version as the page showed it (a stale form is refused). Refused: the page again
    with the user's input and the messages beside the fields (422)."""
    ctx = context()
    with unit_of_work() as db:
        actor = page_actor(db)
        sample = _sample(db, sample_id)
        try:
            if sample.kind == "call":
                call_form = parse_call_review(request.form, heard_answers(db, actor, sample_id))
                values, errors = call_form.values, dict(call_form.errors)
                if call_form.ok:
                    assert call_form.result_correct is not None
                    assert call_form.version is not None
                    if ctx.calls is None:
                        raise RuntimeError("the console was mounted without the call rules (ConsoleContext.calls)")
                    review = review_call(db, ctx.calls, actor, sample_id, call_form.marks, call_form.result_correct,
                                         call_form.remarks, version=call_form.version)
                    db.commit()
                    flash(_done(review), "done")
                    return redirect(url_for("qa.sample_page", sample_id=sample_id))
            else:
                case_form = parse_case_review(request.form)
                values, errors = case_form.values, dict(case_form.errors)
                if case_form.ok:
                    assert case_form.followed_rules is not None
                    assert case_form.score is not None
                    assert case_form.version is not None
                    review = review_case(db, actor, sample_id, case_form.followed_rules, case_form.score,
                                         case_form.remarks, version=case_form.version, clock=ctx.clock)
                    db.commit()
                    flash(_done(review), "done")
                    return redirect(url_for("qa.sample_page", sample_id=sample_id))
        except (NotAllowed, SampleNotFound):
            abort(404)
        except ReviewRefused as exc:
            db.rollback()
            errors[""] = str(exc)
        return _page(db, actor, sample_id, form=values, errors=errors, status=422)
