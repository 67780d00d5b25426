"""The audit trail desk: `GET /console/audit` (query `user`, `action`, `target`, `since`, `until`, `page`;
`format=xlsx|csv` exports exactly the filtered rows, itself audited). Newest first. Read-only: the desk has no
form and no other method, and the database refuses UPDATE and DELETE on the trail (migration 0005)."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.cases.export import MEDIA_TYPES, attachment, defused, to_csv, to_xlsx
from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.formatting import local_time
from console.labels import zh
from console.recordings.forms import day_of, page_of
from kit.actor import AUDIT_READERS, Actor
from kit.clock import BUSINESS_TZ
from recordings.audit import TrailFilter, audit, trail, trail_count
from storage.models import AuditEvent

audit_desk = desk("audit", __name__)
PAGE_SIZE = 50
HEADERS = ("时间", "用户", "操作", "操作代码", "对象", "事由", "详情")
WIDTHS = (18, 14, 14, 14, 30, 30, 80)


def _filters(errors: dict[str, str]) -> TrailFilter:
    args = request.args
    since = day_of(args.get("since", ""), "开始日期", errors, "since")
    until = day_of(args.get("until", ""), "结束日期", errors, "until")
    if since and until and until < since:
        errors["until"] = "结束日期：不能早于开始日期"
    return TrailFilter(user=args.get("user", "").strip() or None, action=args.get("action", "").strip() or None,
                       target=args.get("target", "").strip() or None, since=since, until=until)


def lines_of(events: list[AuditEvent]) -> list[list[str]]:
    """The trail's lines as the export's cells (formula-looking cells defused)."""
    return [[defused(cell) for cell in (local_time(a.at), a.operator, zh(a.action, "audit_action"), a.action,
                                        a.target, a.reason, a.detail)] for a in events]


def _export(db: Session, actor: Actor, filters: TrailFilter, fmt: str, now: datetime) -> Response | str:
    """Every filtered line (all pages), or a message when there are more than the export limit."""
    limit = context().settings.console.export_max_rows
    count = trail_count(db, actor, filters)
    if count > limit:
        return (f"符合条件的审计日志共 {count} 条，超过单次导出上限 {limit} 条，请缩小查询范围"
                "（如选择用户、操作或日期）后再导出")
    lines = lines_of(trail(db, actor, filters, limit=limit))
    audit(db, actor=actor, action="audit_export", target=f"audit: {filters.describe()}", now=now,
          detail=f"{fmt}, {len(lines)} rows")
    content = to_csv(lines, HEADERS) if fmt == "csv" else to_xlsx(lines, HEADERS, WIDTHS, "审计日志")
    stamp = now.astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M")
    response = Response(content, content_type=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = attachment(f"审计日志-{stamp}.{fmt}", f"audit-{stamp}.{fmt}")
    response.headers["Cache-Control"] = "no-store"
    return response


@audit_desk.get("/audit", endpoint="trail_page")
def trail_view() -> Response | tuple[str, int]:
    errors: dict[str, str] = {}
    filters = _filters(errors)
    page = page_of(request.args.get("page"))
    fmt = request.args.get("format", "")
    if fmt and fmt not in MEDIA_TYPES:
        errors["format"] = "导出格式：只能是 xlsx 或 csv"
    now = context().clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, AUDIT_READERS)
        if fmt and not errors:
            exported = _export(db, actor, filters, fmt, now)
            if isinstance(exported, Response):
                db.commit()  # the export's own line
                return exported
            errors["format"] = exported
        events = [] if errors else trail(db, actor, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        total = 0 if errors else trail_count(db, actor, filters)
        kept = {k: v for k, v in request.args.items() if k not in ("page", "format")}
        html = render_template("console/audit/trail.html", actor=actor, events=events, total=total, args=request.args,
                               errors=errors, result={"page": page, "has_next": page * PAGE_SIZE < total},
                               export_query={"xlsx": {**kept, "format": "xlsx"}, "csv": {**kept, "format": "csv"}})
    return html, 422 if errors else 200
