"""The branch case desk: `GET /console/cases`, the queue in processing order through the user's scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cases.queue import QueueFilter
from console.cases.queries import queue_page
from console.context import context, signed_in, unit_of_work
from flows.vocab import CaseType
from kit.clock import BUSINESS_TZ
from kit.vocab import SlaStatus

cases = Blueprint("cases", __name__, url_prefix="/console")

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
    page = max(1, request.args.get("page", "1").isdigit() and int(request.args.get("page", "1")) or 1)
    filters = QueueFilter(branch_code=request.args.get("branch") or None,
                          case_type=CaseType(case_type) if case_type else None,
                          sla=SlaStatus(sla) if sla else None, text=(request.args.get("q") or "").strip() or None)
    with unit_of_work() as db:
        actor = signed_in(db)
        if actor is None:
            return redirect(url_for("auth.login", next=request.full_path))
        result = queue_page(db, actor, now, filters, page)
    local = {r.case.id: (r.case.due_at.astimezone(BUSINESS_TZ), sla_words(r.case.sla_status, r.case.due_at, now))
             for r in result.rows}
    return render_template("console/cases/queue.html", actor=actor, result=result, local=local, sla_zh=SLA_ZH,
                           type_zh=TYPE_ZH, args=request.args)

