"""The dialer page's view: the dialers' heartbeats, the pauses in force and their history, today's due backlog by
hour (dialer.status, dialer.controls — the same views as `huifang dialer status`), in the words staff read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.labels import zh
from dialer.controls import ControlError, PauseView, Scope, history
from dialer.status import Backlog, DialerView, Status, backlog_by_hour, status
from kit.actor import Actor
from kit.clock import BUSINESS_TZ
from kit.settings import Settings
from storage.models import Branch

HISTORY_ROWS = 20


@dataclass(frozen=True)
class HourRow:
    label: str  # "9 时" (09:00–10:00), or "0 点前" (due when the day began)
    count: int
    now: bool  # the hour it is now


@dataclass(frozen=True)
class DialerPage:
    status: Status
    history: list[PauseView]
    backlog: Backlog
    hours: list[HourRow]
    branches: dict[str, str]  # code → name, for the form and the scopes' names
    cps: float  # all dialers together, placements in the last minute / 60
    now: datetime


def seconds(at: datetime | None) -> str:
    """An instant in Beijing time to the second: 2026-11-29 14:05:07."""
    return at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def scope_zh(scope: Scope, branches: dict[str, str]) -> str:
    """全部 · 机构 北京分公司（110100） · 险种 健康险 · 北京分公司（110100）的健康险."""
    if scope.branch is None and scope.product_type is None:
        return "全部"
    branch = f"{branches.get(scope.branch, '')}（{scope.branch}）" if scope.branch else ""
    kind = zh(scope.product_type, "product_type") if scope.product_type else ""
    if branch and kind:
        return f"{branch}的{kind}"
    return f"机构 {branch}" if branch else f"险种 {kind}"


def refusal_zh(exc: ControlError, scope: Scope, branches: dict[str, str]) -> str:
    """What the service refused, in Chinese: the field's message, or how the request does not fit what is in
    force now (someone else may have changed it since the page was loaded)."""
    if exc.current is not None:
        c = exc.current
        return (f"{scope_zh(scope, branches)}已在暂停中（{c.by} 于 {seconds(c.since)[:16]} 暂停，原因：{c.reason}），"
                "可能是其他人刚刚暂停的")
    if not exc.field:
        listed = "；".join(scope_zh(p.scope, branches) for p in exc.in_force) or "无"
        return f"{scope_zh(scope, branches)}当前未暂停，无需恢复（可能已被其他人恢复）。当前暂停：{listed}"
    return exc.zh


def branches(db: Session) -> dict[str, str]:
    return {code: name for code, name in db.execute(select(Branch.code, Branch.name).order_by(Branch.code))}


def dialer_page(db: Session, actor: Actor, settings: Settings, now: datetime, today: date) -> DialerPage:
    view = status(db, actor, now=now, today=today, stale_after_ticks=settings.dialer.stale_after_ticks)
    backlog = backlog_by_hour(db, actor, today)
    hour_now = now.astimezone(BUSINESS_TZ).hour
    start, end = int(settings.dialer.calling_hours_start[:2]), int(settings.dialer.calling_hours_end[:2])
    rows = [HourRow("0 点前", backlog.at_start, False)]
    rows += [HourRow(f"{h} 时", n, h == hour_now) for h, n in enumerate(backlog.hours)
             if n or start <= h < end or h == hour_now]  # the calling hours, and any other hour with tasks
    live = [d for d in view.dialers if not d.stale]
    return DialerPage(view, history(db, HISTORY_ROWS), backlog, rows, branches(db), round(sum(d.cps for d in live), 3), now)


def state_zh(dialer: DialerView) -> tuple[str, str]:
    """(the tag's class, its words): 已失联 when stale, 退避中 while backing off, else 运行中 / 单次运行."""
    if dialer.stale:
        return "overdue", "已失联"
    if dialer.backoff_until is not None:
        return "warning", "退避中"
    return "normal", "单次运行" if dialer.ticks_every_s is None else "运行中"
