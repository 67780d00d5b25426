"""GET /api/v1/policies/{policy_no}: one policy's callback status, read through tasks.views.policy_view (the
read model of `huifang policies show` and the console) as the key's actor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kit.actor import Actor
from kit.vocab import OPEN_CASE_STATUSES
from tasks.views import policy_view

TASK_FIELDS = ("status", "channel", "hold_reasons", "opens_on", "deadline", "attempts", "result_class",
               "reason_codes", "late")
CASE_FIELDS = ("id", "type", "reason", "status", "sla_status", "created_at", "due_at")


def policy_status(session: Session, actor: Actor, policy_no: str, now: datetime) -> dict[str, Any]:
    """Raises tasks.views.PolicyNotFound."""
    view = policy_view(session, actor, policy_no, now)
    data = view.to_json()
    task = data["task"]
    if task is not None:
        task = {k: (task[k] if k in task else getattr(view.task, k)) for k in TASK_FIELDS}
    still_open = {s.value for s in OPEN_CASE_STATUSES}
    open_cases = [{k: c[k] for k in CASE_FIELDS} for c in data["cases"] if c["status"] in still_open]
    return {
        "policy_no": data["policy_no"],
        "callback_required": data["callback_required"],
        "exclusion_reason": data["exclusion_reason"],
        "cooling_off_end": data["cooling_off_end"],
        "task": task,
        "calls": len(data["calls"]),
        "open_cases": open_cases,
        "late": bool(task and task["late"]),
    }
