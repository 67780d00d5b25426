"""The case desk's own words (the SLA in words, the assignee filter) beside the console's vocabulary (console.labels)."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.formatting import local_time
from console.labels import (
    ACTION_ZH,
    CASE_STATUS_ZH,
    EVENT_ZH,
    REASON_ZH,
    ROLE_ZH,
    SLA_ZH,
    TASK_STATUS_ZH,
)
from console.labels import CASE_TYPE_ZH as TYPE_ZH

HISTORY_ZH = EVENT_ZH
__all__ = ["ACTION_ZH", "ASSIGNEE_ZH", "CASE_STATUS_ZH", "HISTORY_ZH", "REASON_ZH", "ROLE_ZH", "SLA_ZH", "TASK_STATUS_ZH",
           "TYPE_ZH", "local_time", "sla_words"]

ASSIGNEE_ZH = {"anyone": "全部", "me": "分派给我的", "unassigned": "未分派"}


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
