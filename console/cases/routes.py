"""The branch case desk: `GET /console/cases` (the queue in processing order through the user's scope, or its
export), the case page, and the forms that resolve and assign cases through cases.actions. Routes parse
(console.cases.forms), call the service, and render; refusals come back in Chinese (console.cases.messages)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from cases.actions import ActionRefused, CaseNotFound, assign, assign_many, load, resolve
from channels.switch import ChannelRefused, move
from console.cases.channel import moved_zh, parse_channel
from console.cases.channel import refusal_zh as channel_refusal_zh
from console.cases.detail import case_page
from console.cases.export import export
from console.cases.forms import parse_bulk_assign, parse_queue_query, parse_resolution, version_of
from console.cases.labels import (
    ACTION_ZH,
    ASSIGNEE_ZH,
    HISTORY_ZH,
    SLA_ZH,
    TASK_STATUS_ZH,
    TYPE_ZH,
    local_time,
    sla_words,
)
from console.cases.messages import effect_zh, refusal_zh
from console.cases.queries import TooManyRows, assignees, queue_page
from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.recordings.queries import recording_store
from huifang.case_rules import CaseRules
from kit.actor import CASE_DISPATCHERS, CASE_HANDLERS, CASE_READERS, Actor, NotAllowed
from storage.models import CallbackTask

__all__ = ["SLA_ZH", "TYPE_ZH", "cases", "sla_words"]  # the labels, as other desks import them from here

cases = desk("cases", __name__)
RESOLVE_FIELDS = ("action", "note", "phone", "at", "told_rescission", "visitor")


def _filter_args() -> dict[str, str]:
    """The queue's query parameters as given (bookmarkable), without the page and the export format."""
    return {k: v for k, v in request.args.items() if k not in ("page", "format")}


def _queue_url(query: str) -> str:
    """The queue with the filters and page a form came from (only our own path: no open redirect)."""
    pairs = [(k, v) for k, v in parse_qsl(query) if k != "format"]
    return url_for("cases.queue_page") + (f"?{urlencode(pairs)}" if pairs else "")


@cases.get("/cases", endpoint="queue_page")
def queue_view() -> Response | str:
    """The queue, or with `format=xlsx|csv` every filtered row as a download (audited)."""
    ctx = context()
    now = ctx.clock.now()
    query = parse_queue_query(request.args)
    errors = dict(query.errors)
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        if query.format and not errors:
            try:
                download = export(db, actor, now, query.filters, query.format, ctx.settings.console.export_max_rows)
            except TooManyRows as exc:
                errors["format"] = (f"符合条件的工单共 {exc.count} 条，超过单次导出上限 {exc.limit} 条，"
                                    "请缩小查询范围（如选择月份、机构或工单类型）后再导出")
            else:
                db.commit()  # the audit line
                return download
        result = queue_page(db, actor, now, query.filters, query.page)
    local = {r.case.id: (local_time(r.case.due_at), sla_words(r.case.sla_status, r.case.due_at, now))
             for r in result.rows}
    filters = _filter_args()
    return render_template("console/cases/queue.html", actor=actor, result=result, local=local, sla_zh=SLA_ZH,
                           type_zh=TYPE_ZH, assignee_zh=ASSIGNEE_ZH, args=request.args, errors=errors,
                           messages=get_flashed_messages(with_categories=True),
                           can_dispatch=actor.has(CASE_DISPATCHERS), back=urlencode(request.args),
                           export_csv=urlencode({**filters, "format": "csv"}),
                           export_xlsx=urlencode({**filters, "format": "xlsx"}))


def _case(db: Session, actor: Actor, case_id: int, *, resolve_form: dict[str, str] | None = None,
          assign_form: dict[str, str] | None = None, channel_form: dict[str, str] | None = None,
          reply_form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    """The case page; after a refused form, with what the user sent and the messages beside the fields
    (`errors` keys: `resolve.FIELD`, `assign.FIELD`, `channel.FIELD`, `reply.FIELD`; the field "" for the form
    as a whole)."""
    try:
        page = case_page(db, actor, case_id, context().clock.now(), recording_store())
    except CaseNotFound:
        abort(404)
    # the forms only where the actor's handling roles reach (a reader of every branch may handle only its own)
    handler = actor.acting_as(CASE_HANDLERS, "handle cases") if actor.has(CASE_HANDLERS) else None
    can_handle = handler is not None and handler.sees_branch(page.case.branch_code)
    questions = reply.page_questionnaire(db, handler, case_id) if handler is not None and can_handle else None
    html = render_template("console/cases/case.html", actor=actor, page=page, sla_zh=SLA_ZH, type_zh=TYPE_ZH,
                           action_zh=ACTION_ZH, history_zh=HISTORY_ZH, task_status_zh=TASK_STATUS_ZH,
                           local_time=local_time, messages=get_flashed_messages(with_categories=True),
                           resolve_form=resolve_form or {}, assign_form=assign_form or {},
                           channel_form=channel_form or {}, errors=errors or {},
                           reply_form=reply_form or {}, questions=questions,
                           can_handle=can_handle, assignees=assignees(db, handler or actor, page.case.branch_code))
    return html, status


def _at_field(form: str, fields: tuple[str, ...], exc: Any) -> str:
    """Where a refusal is shown: beside its field when the form has it, else over the form."""
    name = getattr(exc, "field", None)
    return f"{form}.{name if name in fields else ''}"


@cases.get("/cases/<int:case_id>", endpoint="case_page")
def case_view_route(case_id: int) -> tuple[str, int]:
    with unit_of_work() as db:
        return _case(db, page_actor(db, CASE_READERS), case_id)


@cases.post("/cases/<int:case_id>/resolve", endpoint="resolve")
def resolve_route(case_id: int) -> Response | tuple[str, int]:
    """The resolution form: the same fields as `huifang cases resolve`, checked by the same service. Refused:
    the form again with the user's input and the reason beside the field."""
    ctx = context()
    form = parse_resolution(request.form)
    errors = {f"resolve.{name}": words for name, words in form.errors.items()}
    with unit_of_work() as db:
        actor = page_actor(db, CASE_HANDLERS)  # read-only roles: 403
        if form.handling is not None:
            try:
                outcome = resolve(db, actor, case_id, form.handling, now=ctx.clock.now(), settings=ctx.settings,
                                  calendar=ctx.calendar, rules=CaseRules(ctx.settings, ctx.calendar),
                                  expected_version=form.version)
            except CaseNotFound:
                abort(404)
            except (ActionRefused, NotAllowed) as exc:
                errors[_at_field("resolve", RESOLVE_FIELDS, exc)] = refusal_zh(exc)
            else:
                db.commit()
                flash("已处理：" + "；".join(effect_zh(e) for e in outcome.effects), "done")
                return redirect(url_for("cases.case_page", case_id=case_id))
        return _case(db, actor, case_id, resolve_form=form.values, errors=errors, status=422)


@cases.post("/cases/<int:case_id>/assign", endpoint="assign")
def assign_route(case_id: int) -> Response | tuple[str, int]:
    """Give the case to someone (`to`), with the version the page showed (a stale form is refused)."""
    to = request.form.get("to", "")
    with unit_of_work() as db:
        actor = page_actor(db, CASE_HANDLERS)  # read-only roles: 403
        try:
            outcome = assign(db, actor, case_id, to, now=context().clock.now(),
                             expected_version=version_of(request.form.get("version", "")))
        except CaseNotFound:
            abort(404)
        except (ActionRefused, NotAllowed) as exc:
            return _case(db, actor, case_id, assign_form={"to": to},
                         errors={_at_field("assign", ("to",), exc): refusal_zh(exc)}, status=422)
        db.commit()
    flash("；".join(effect_zh(e) for e in outcome.effects), "done")
    return redirect(url_for("cases.case_page", case_id=case_id))


@cases.post("/cases/<int:case_id>/channel", endpoint="channel")
def channel_route(case_id: int) -> Response | tuple[str, int]:
    """转换回访方式: move the case's callback to another channel (`to`, `reason`) through channels.switch.move,
    the same as `huifang tasks channel`. Refused: the form again with the reason beside the field."""
    ctx = context()
    form = parse_channel(request.form)
    errors = {f"channel.{name}": words for name, words in form.errors.items()}
    with unit_of_work() as db:
        actor = page_actor(db, CASE_HANDLERS)  # read-only roles: 403
        handler = actor.acting_as(CASE_HANDLERS, "move a callback to another channel")
        try:
            case, _code = load(db, handler, case_id)  # another branch's: 404, as if it did not exist
        except CaseNotFound:
            abort(404)
        task = db.get(CallbackTask, case.task_id) if case.task_id else None
        if task is None:
            errors["channel.to"] = "该工单没有对应的回访任务，无法转换回访方式"
        elif form.to is not None and not errors:
            try:
                moved = move(db, task, form.to, actor=handler, reason=form.reason, now=ctx.clock.now(),
                             settings=ctx.settings, calendar=ctx.calendar)
            except ChannelRefused as exc:
                name, words = channel_refusal_zh(exc)
                errors[f"channel.{name}"] = words
            else:
                db.commit()
                flash(moved_zh(moved), "done")
                return redirect(url_for("cases.case_page", case_id=case_id))
        return _case(db, actor, case_id, channel_form=form.values, errors=errors, status=422)


@cases.post("/cases/assign", endpoint="assign_many")
def assign_many_route() -> Response:
    """批量分派 (supervisors): each ticked case (`case` = ID:VERSION) to `to`, each on its own; the flash says
    how many were assigned and which were not, and why. Back to the queue with its filters."""
    form = parse_bulk_assign(request.form)
    back = _queue_url(request.form.get("back", ""))
    with unit_of_work() as db:
        actor = page_actor(db, CASE_DISPATCHERS)
        if form.errors:
            flash("；".join(form.errors), "error")
            return redirect(back)
        try:
            result = assign_many(db, actor, form.cases, form.to, now=context().clock.now())
        except (ActionRefused, NotAllowed) as exc:
            flash(refusal_zh(exc), "error")
            return redirect(back)
        db.commit()
    if result.assigned:
        flash(f"已分派 {len(result.assigned)} 件工单给 {form.to}", "done")
    if result.refused:
        flash(f"未分派 {len(result.refused)} 件：" + "；".join(f"工单 {case_id}：{refusal_zh(exc)}"
                                                         for case_id, exc in result.refused), "error")
    return redirect(back)


from console.cases import reply  # noqa: E402  (its route, on this blueprint; the case page lists its questions)
