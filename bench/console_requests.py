"""The requests bench/console.py times: the queue's filters (picked from the benchmark data so each returns
rows), the dashboard and the KPI page."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from queue_data import BRANCH_USER, NOW, SUPERVISOR
from sqlalchemy import Engine, text

TARGET_P95_MS = 300.0  # the queue
DASHBOARD_TARGET_P95_MS = 500.0  # the dashboard, each refresh (issue 16)
KPI_TARGET_P95_MS = 1500.0  # the KPI page, each grouping: a page asked for now and then, not every minute


@dataclasses.dataclass(frozen=True)
class Request:
    name: str
    user: str
    query: str
    path: str = "/console/cases"
    headers: tuple[tuple[str, str], ...] = ()
    target_ms: float = TARGET_P95_MS

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def pick(engine: Engine, branch: str) -> dict[str, str]:
    """Search terms taken from the data: an open case's policy number, applicant and phone in the branch user's
    branch, and another branch for the supervisor's branch filter."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.policy_no, p.applicant_name, p.applicant_phone FROM cases c JOIN policies p ON p.id = c.policy_id "
            "JOIN branches b ON b.id = c.branch_id WHERE c.status = 'open' AND b.code = :b AND p.applicant_phone_valid "
            "ORDER BY c.id LIMIT 1 OFFSET 100"), {"b": branch}).one()
        other = conn.execute(text(
            "SELECT b.code FROM cases c JOIN branches b ON b.id = c.branch_id WHERE c.status IN ('open', 'in_progress') "
            "GROUP BY b.code ORDER BY count(*), b.code LIMIT 1 OFFSET 10")).scalar_one()
    return {"policy_no": row[0], "name": row[1], "phone": row[2][-11:], "phone_tail": row[2][-4:], "branch": other}


def requests_for(terms: dict[str, str], fields: set[str]) -> tuple[list[Request], list[str]]:
    last_month = (NOW.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    b, s = BRANCH_USER, SUPERVISOR
    out = [
        Request("branch_default", b, ""),
        Request("supervisor_default", s, ""),
        Request("branch_type", b, "type=mis_selling_case"),
        Request("supervisor_type", s, "type=mis_selling_case"),
        Request("branch_sla_overdue", b, "sla_status=overdue"),
        Request("supervisor_sla_overdue", s, "sla_status=overdue"),
        Request("supervisor_sla_warning", s, "sla_status=warning"),
        Request("supervisor_branch", s, f"branch={terms['branch']}"),
        Request("supervisor_type_sla_branch", s, f"type=first_explanation_case&sla_status=overdue&branch={terms['branch']}"),
        Request("branch_q_policy_no", b, f"q={terms['policy_no']}"),
        Request("supervisor_q_policy_no", s, f"q={terms['policy_no']}"),
        Request("branch_q_name", b, f"q={terms['name']}"),
        Request("supervisor_q_name", s, f"q={terms['name']}"),
        Request("supervisor_q_phone", s, f"q={terms['phone']}"),
        Request("supervisor_q_phone_tail4", s, f"q={terms['phone_tail']}"),
        Request("branch_page_50", b, "page=50"),
        Request("supervisor_page_50", s, "page=50"),
    ]
    skipped = []
    if "assignee" in fields:
        out += [Request("branch_assignee_me", b, "assignee=me"), Request("branch_assignee_unassigned", b,
                                                                         "assignee=unassigned"),
                Request("supervisor_assignee_unassigned", s, "assignee=unassigned")]
    else:
        skipped.append("assignee: QueueFilter has no `assignee` field yet (the teammate's change): not measured")
    if "month" in fields:
        out += [Request("branch_month", b, f"month={last_month}"), Request("supervisor_month", s, f"month={last_month}")]
    else:
        skipped.append("month: QueueFilter has no `month` field yet (the teammate's change): not measured")
    return out + dashboard_requests(terms), skipped


def dashboard_requests(terms: dict[str, str]) -> list[Request]:
    """The supervisor's dashboard (the page; the part htmx refreshes; one branch) and the KPI page by every
    grouping for the month before NOW's (a whole month of tasks due) and NOW's own."""
    s, target, kpi = SUPERVISOR, DASHBOARD_TARGET_P95_MS, KPI_TARGET_P95_MS
    last_month = (NOW.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    htmx = (("HX-Request", "true"),)
    out = [Request("dashboard", s, "", "/console/", target_ms=target),
           Request("dashboard_refresh", s, "", "/console/", htmx, target),
           Request("dashboard_branch", s, f"branch={terms['branch']}", "/console/", target_ms=target),
           Request("dashboard_branch_refresh", s, f"branch={terms['branch']}", "/console/", htmx, target)]
    for by in ("branch", "channel", "agent", "product_type"):
        out.append(Request(f"kpi_{by}", s, f"month={last_month}&by={by}", "/console/reports/kpi", target_ms=kpi))
    out.append(Request("kpi_branch_this_month", s, f"month={NOW:%Y-%m}&by=branch", "/console/reports/kpi",
                       target_ms=kpi))
    return out


def campaign_dataset(engine: Engine) -> dict[str, Any]:
    """What the dashboard reads: tasks, calls (all, the last 30 days', today's), tasks due today."""
    today = NOW.date()
    with engine.connect() as conn:
        def scalar(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), params).scalar_one()

        start = datetime.combine(today, datetime.min.time(), tzinfo=NOW.tzinfo)
        return {
            "tasks": scalar("SELECT count(*) FROM callback_tasks"),
            "tasks_unfinished": scalar("SELECT count(*) FROM callback_tasks WHERE status IN "
                                       "('queued', 'held', 'dialing', 'in_progress')"),
            "calls": scalar("SELECT count(*) FROM calls"),
            "calls_last_30_days": scalar("SELECT count(*) FROM calls WHERE created_at >= :s",
                                         s=start - timedelta(days=29)),
            "calls_today": scalar("SELECT count(*) FROM calls WHERE created_at >= :s", s=start),
        }


