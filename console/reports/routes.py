"""The KPI page, `GET /console/reports/kpi?month=YYYY-MM&by=branch|channel|agent|product_type` (supervisors): the
month's KPIs of `huifang report kpi` — the same service (cases.kpi), so the same numbers — with every rate's
numerator and denominator (`PAGE_SIZE` groups a page, `page=N`), the agent warnings of `huifang report agents`,
and `format=csv|xlsx`: the CLI's --csv / --xlsx file of the same report (every group), audited as every export
is (user, month, grouping, rows). Its 质检 section: the month's quality measures of `huifang report qa` (qa.measures,
the same numbers: console/reports/qa.py)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from cases.kpi import (
    GROUPING_ZH,
    GROUPINGS,
    HEADERS_ZH,
    RATES,
    Month,
    ReportError,
    agent_warnings,
    kpi,
    to_csv,
    to_xlsx,
)
from channels.sequence import CHANNEL_ZH as CALLBACK_CHANNEL_ZH
from console.cases.export import MEDIA_TYPES, attachment
from console.context import context, page_actor, unit_of_work
from console.dashboard.charts import kpi_chart
from console.desk import desk
from console.labels import CHANNEL_ZH, PRODUCT_TYPE_ZH
from console.reports.qa import qa_section
from kit.actor import REPORT_READERS, Actor
from kit.clock import BUSINESS_TZ
from recordings.audit import audit
from storage.models import Branch
from storage.repositories.reports import agent_names

reports = desk("reports", __name__)
FORMATS = ("xlsx", "csv")
PAGE_SIZE = 50  # groups a page shows (by agent there are thousands); the exports hold every one


@reports.get("/reports/kpi", endpoint="kpi_page")
def kpi_view() -> Response | str:
    ctx = context()
    now = ctx.clock.now()
    args = request.args
    month_text = args.get("month", "").strip() or f"{now.astimezone(BUSINESS_TZ):%Y-%m}"
    by = args.get("by", "").strip() or "branch"
    fmt = args.get("format", "").strip()
    errors: dict[str, str] = {}
    month = None
    try:
        month = Month.parse(month_text)
    except ReportError:
        errors["month"] = f"月份：“{month_text}”不是有效的月份，请按 YYYY-MM 填写，如 2026-11"
    if by not in GROUPINGS:
        errors["by"] = "分组：请选择 " + "、".join(GROUPING_ZH.values())
        by = "branch"
    if fmt and fmt not in FORMATS:
        errors["format"] = "导出格式：只支持 xlsx 或 csv"
    with unit_of_work() as db:
        actor = page_actor(db, REPORT_READERS)
        report = kpi(db, month, by) if month is not None else None
        if report is not None and fmt and not errors:
            download = _export(db, actor, now, report, fmt)
            db.commit()  # the audit line
            return download
        warnings = None if month is None else agent_warnings(
            db, month, ctx.settings.reports, report if by == "agent" else None)
        labels = _labels(db, by)
        quality = qa_section(db, actor, month_text) if month is not None else None
    shown = _page_of(report, args.get("page", ""))
    return render_template("console/reports/kpi.html", actor=actor, report=report, shown=shown, warnings=warnings,
                           labels=labels, errors=errors, month=month_text, by=by, groupings=GROUPING_ZH,
                           rates=RATES, headers=HEADERS_ZH, settings=ctx.settings.reports, quality=quality,
                           chart=kpi_chart(shown.rows, by, labels) if shown else None,
                           pager_args={"month": month_text, "by": by}, page_size=PAGE_SIZE,
                           export={f: {"month": month_text, "by": by, "format": f} for f in FORMATS})


@dataclass(frozen=True)
class Shown:
    """The report's rows on this page (`PAGE_SIZE` a page, in the report's order; the total stays the whole
    report's) and what the pager needs (`console/_pager.html`)."""
    rows: list[dict[str, Any]]
    page: int
    pages: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _page_of(report: dict[str, Any] | None, raw: str) -> Shown | None:
    if report is None:
        return None
    pages = max(1, math.ceil(len(report["rows"]) / PAGE_SIZE))
    page = min(max(1, int(raw)), pages) if raw.isdigit() else 1
    return Shown(report["rows"][(page - 1) * PAGE_SIZE:page * PAGE_SIZE], page, pages)


def _labels(db: Session, by: str) -> dict[str, str]:
    """What a group's key reads as beside its code: the branch's or agent's name, the channel's or product
    type's Chinese word."""
    if by == "branch":
        return {code: name for code, name in db.execute(select(Branch.code, Branch.name))}
    if by == "agent":
        return agent_names(db)
    if by == "callback_channel":
        return dict(CALLBACK_CHANNEL_ZH)
    return dict(CHANNEL_ZH if by == "channel" else PRODUCT_TYPE_ZH)


def _export(db: Session, actor: Actor, now: datetime, report: dict[str, Any], fmt: str) -> Response:
    """The CLI's file of this report (`huifang report kpi --csv/--xlsx`: cases.kpi.to_csv / to_xlsx), audited in
    the caller's transaction."""
    rows = len(report["rows"]) + 1  # and the total
    audit(db, actor=actor, action="kpi_export", target=f"kpi: month={report['month']}, by={report['by']}", now=now,
          detail=f"{fmt}, {rows} rows")
    if fmt == "csv":
        content = ("\ufeff" + to_csv(report)).encode("utf-8")  # as the CLI writes it (utf-8-sig: Excel in China)
    else:
        out = io.BytesIO()
        to_xlsx(report, out)
        content = out.getvalue()
    response = Response(content, content_type=MEDIA_TYPES[fmt])
    name = f"回访KPI-{report['month']}-按{GROUPING_ZH[report['by']]}.{fmt}"
    response.headers["Content-Disposition"] = attachment(name, f"kpi-{report['month']}-{report['by']}.{fmt}")
    response.headers["Cache-Control"] = "no-store"
    return response
