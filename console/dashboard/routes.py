"""The supervisor's dashboard, `GET /console/` for supervisors (console.auth.routes.home): today's campaign, the
tasks at risk, the last 30 days' reach and success rates, open work orders per branch by SLA status — the
numbers of cases.campaign through the user's scope, for every branch or the one in `branch`. htmx asks for it
again every 60 seconds (and on 立即刷新) with the same filter; then only the dashboard's part is sent."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request, url_for
from sqlalchemy.orm import Session

from cases.campaign import AT_RISK_WORKING_DAYS, DAYS, UnknownBranch, dashboard
from console.context import context
from console.dashboard.charts import dashboard_charts
from console.dialer.queries import branches, scope_zh
from dialer.controls import pauses_in_force
from kit.actor import Actor

REFRESH_SECONDS = 60
WEEKDAY_ZH = "一二三四五六日"


def dashboard_page(db: Session, actor: Actor) -> str:
    """The page (or, asked by htmx, its refreshable part), for an actor the caller has let in."""
    ctx = context()
    now = ctx.clock.now()
    branch = request.args.get("branch", "").strip()
    errors: dict[str, str] = {}
    try:
        board = dashboard(db, actor, now, ctx.calendar, branch or None)
    except UnknownBranch:
        errors["branch"] = f"机构：没有代码为 {branch} 的机构，下面是全部机构的数据"
        board = dashboard(db, actor, now, ctx.calendar, None)
    names = branches(db)
    pauses = [(scope_zh(p.scope, names), p) for p in pauses_in_force(db)]  # whether calling is paused now
    here = url_for("auth.home") + (f"?{urlencode({'branch': board.branch})}" if board.branch else "")
    template = "_body.html" if request.headers.get("HX-Request") == "true" else "page.html"
    return render_template(f"console/dashboard/{template}", actor=actor, board=board, errors=errors,
                           charts=dashboard_charts(board), here=here, refresh_seconds=REFRESH_SECONDS,
                           weekday=WEEKDAY_ZH[board.today.day.weekday()], at_risk_days=AT_RISK_WORKING_DAYS,
                           days=DAYS, pauses=pauses, names=names)
