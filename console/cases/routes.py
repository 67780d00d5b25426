"""The branch case desk: `GET /console/cases`, the queue in processing order through the user's scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cases.actions import Action, ActionRefused, CaseNotFound, Handling, resolve
from cases.queue import QueueFilter
from console.cases.detail import case_page
from console.cases.queries import queue_page
from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.recordings.queries import recording_store
from flows.vocab import CaseType
from huifang.case_rules import CaseRules
from kit.actor import CASE_READERS, NotAllowed
from kit.clock import BUSINESS_TZ
from kit.vocab import SlaStatus

cases = desk("cases", __name__)

SLA_ZH = {"normal": "正常", "warning": "预警", "overdue": "超时"}
TYPE_ZH = {"verification_case": "核实件", "dialect_case": "方言件", "first_explanation_case": "一次解释件",
           "second_explanation_case": "二次解释件", "mis_selling_case": "销售误导件", "proxy_signature_case": "代签名件",
           "in_person_visit_case": "人工亲访件", "letter_case": "信函件", "contract_quality_case": "合同质量件"}


def sla_words(status: str, due: datetime, now: datetime) -> str:
    """The SLA in words beside its tag: time left, or how long overdue (剩余 5 小时 / 已超时 2 天)."""
    gap = due - now if status != "overdue" else now - due
    if gap >= timedelta(days=1):
        amount = f"{gap.days} 天"
    elif gap >= timedelta(hours=1):
        amount = f"{int(gap.total_seconds() // 3600)} 小时"
    else:
        amount = f"{max(1, int(gap.total_seconds() // 60))} 分钟"
    return f"已超时 {amount}" if status == "overdue" else f"剩余 {amount}"


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name, "")
    return value if value in allowed else None


@cases.get("/cases", endpoint="queue_page")
def queue_view() -> Response | str:
    """The queue: filters in the URL (type, sla_status, branch, q, page), counts per SLA status on top."""
    ctx = context()
    now = ctx.clock.now()
    case_type = _choice("type", {t.value for t in CaseType})
    sla = _choice("sla_status", {s.value for s in SlaStatus})
    raw_page = request.args.get("page", "1")
    page = max(1, int(raw_page)) if raw_page.isdigit() else 1
    filters = QueueFilter(branch_code=request.args.get("branch") or None,
                          case_type=CaseType(case_type) if case_type else None,
                          sla=SlaStatus(sla) if sla else None, text=(request.args.get("q") or "").strip() or None)
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        result = queue_page(db, actor, now, filters, page)
    local = {r.case.id: (r.case.due_at.astimezone(BUSINESS_TZ), sla_words(r.case.sla_status, r.case.due_at, now))
             for r in result.rows}
    return render_template("console/cases/queue.html", actor=actor, result=result, local=local, sla_zh=SLA_ZH,
                           type_zh=TYPE_ZH, args=request.args)



ACTION_ZH = {"phone_corrected": "号码已更正", "appointment_set": "已约定回访时间", "explained": "已解释（客户签署解释单）",
             "mis_selling_handled": "销售误导已处理", "signed_questionnaire": "已收回签字问卷", "surrendered": "犹豫期内已退保",
             "overdue_explanation": "逾期情况说明"}


@cases.get("/cases/<int:case_id>", endpoint="case_page")
def case_view_route(case_id: int) -> Response | str:
    ctx = context()
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        try:
            page = case_page(db, actor, case_id, ctx.clock.now(), recording_store())
        except CaseNotFound:
            abort(404)
        return render_template("console/cases/case.html", actor=actor, page=page, sla_zh=SLA_ZH, type_zh=TYPE_ZH,
                               action_zh=ACTION_ZH, messages=get_flashed_messages(with_categories=True),
                               form=request.args)


@cases.post("/cases/<int:case_id>/resolve", endpoint="resolve")
def resolve_route(case_id: int) -> Response:
    """The resolution form: the same fields as `huifang cases resolve`, checked by the same service."""
    ctx = context()
    form = request.form
    try:
        action = Action(form.get("action", ""))
        parsed = datetime.fromisoformat(form["at"]) if form.get("at") else None
        at = parsed.replace(tzinfo=BUSINESS_TZ) if parsed and parsed.tzinfo is None else parsed  # Beijing time
        version = int(form["version"]) if form.get("version", "").isdigit() else None
    except ValueError:
        flash("请选择处理方式，时间格式如 2026-11-30T14:00", "error")
        return redirect(url_for("cases.case_page", case_id=case_id))
    handling = Handling(action, form.get("note", "").strip(), form.get("phone") or None, at,
                        form.get("told_rescission") == "y")
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        try:
            outcome = resolve(db, actor, case_id, handling, now=ctx.clock.now(), settings=ctx.settings,
                              calendar=ctx.calendar, rules=CaseRules(ctx.settings, ctx.calendar),
                              expected_version=version)
        except CaseNotFound:
            abort(404)
        except (ActionRefused, NotAllowed) as exc:
            flash(str(exc), "error")
            return redirect(url_for("cases.case_page", case_id=case_id))
        db.commit()
    flash("已处理：" + "；".join(outcome.effects), "done")
    return redirect(url_for("cases.case_page", case_id=case_id))
