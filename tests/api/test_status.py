"""GET /api/v1/policies/{policy_no}: the callback status of `huifang policies show`, as the key's actor."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from flows.vocab import ResultClass
from kit.clock import BUSINESS_TZ
from kit.vocab import TaskStatus
from storage.models import AuditEvent, CallbackTask, Policy
from tests.api.conftest import ApiWorld, record


def test_a_decided_late_callback_shows_its_attempts_result_reasons_and_late_flag(world: ApiWorld) -> None:
    key = world.key()
    assert world.post(key, {"policies": [record(policy_no="S1")]}).get_json()["tasks_created"] == 1
    with world.sessions() as session:
        task = session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == "S1")).one()
        deadline = task.deadline
        task.status, task.attempts = TaskStatus.COMPLETED, 3
        task.result_class, task.reason_codes = ResultClass.PROBLEM, ["unclear_cooling_off_or_surrender_loss"]
        task.completed_at = datetime(2026, 12, 20, 10, tzinfo=BUSINESS_TZ)
        session.commit()
    assert deadline < date(2026, 12, 20)
    body = world.get(key, "/api/v1/policies/S1").get_json()
    task_json = body["task"]
    assert (task_json["status"], task_json["attempts"], task_json["result_class"]) == ("completed", 3, "problem")
    assert task_json["reason_codes"] == ["unclear_cooling_off_or_surrender_loss"]
    assert task_json["late"] is True
    assert body["late"] is True
    assert body["open_cases"] == []
    assert body["callback_required"] is True
    assert body["cooling_off_end"] == deadline.isoformat()
    with world.sessions() as session:
        line = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_call")
                               .order_by(AuditEvent.id.desc())).first()
        assert line is not None
        assert line.target == "GET /api/v1/policies/<policy_no> S1"


def test_a_policy_that_needs_no_callback_has_no_task(world: ApiWorld) -> None:
    key = world.key()
    world.post(key, {"policies": [record(policy_no="G1", is_group="Y")]})
    body = world.get(key, "/api/v1/policies/G1").get_json()
    assert body["task"] is None
    assert body["callback_required"] is False
    assert body["exclusion_reason"]
    assert body["late"] is False
