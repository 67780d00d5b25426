"""The task lifecycle: the transition table, what each event resets, and a property test that no sequence of
events — legal or not — ever leaves a task in an illegal state."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.vocab import ResultClass
from kit.clock import BUSINESS_TZ
from kit.vocab import QuestionnaireVariant, TaskStatus
from storage.models import CallbackTask
from tasks.lifecycle import TRANSITIONS, IllegalTransition, TaskEvent, allowed, apply, check, target

NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)


def fresh(status: TaskStatus = TaskStatus.QUEUED) -> CallbackTask:
    return CallbackTask(id=1, policy_id=1, status=status, opens_on=date(2026, 11, 20), deadline=date(2026, 12, 5),
                        questionnaire_variant=QuestionnaireVariant.A, attempts=0, reason_codes=[],
                        created_at=NOW, updated_at=NOW)


def fire(task: CallbackTask, event: TaskEvent, at: datetime) -> None:
    """An event with the arguments a real caller gives it."""
    apply(task, event, at, claimed_by="d1", lease_until=at + timedelta(minutes=5),
          next_attempt_at=at + timedelta(hours=2), appointment_at=at + timedelta(days=1),
          result_class=ResultClass.STANDARD, reason_codes=["x"])


def test_completing_a_task_drops_its_claim_and_lease() -> None:
    """The disagreement this module ended: completing left the lease, close_unreachable cleared it."""
    task = fresh()
    fire(task, TaskEvent.CLAIM, NOW)
    fire(task, TaskEvent.PLACED, NOW)
    assert (task.status, task.claimed_by) == (TaskStatus.IN_PROGRESS, "d1")
    apply(task, TaskEvent.COMPLETE, NOW, result_class=ResultClass.PROBLEM, reason_codes=["thought_deposit"])
    assert (task.claimed_by, task.claimed_at, task.lease_expires_at) == (None, None, None)
    assert (task.result_class, task.reason_codes, task.completed_at) == (ResultClass.PROBLEM, ["thought_deposit"], NOW)


def test_a_retry_sets_the_next_attempt_and_a_claim_clears_nothing_it_should_keep() -> None:
    task = fresh()
    fire(task, TaskEvent.CLAIM, NOW)
    apply(task, TaskEvent.RETRY, NOW, next_attempt_at=NOW + timedelta(hours=4))
    assert (task.status, task.next_attempt_at, task.lease_expires_at) == (
        TaskStatus.QUEUED, NOW + timedelta(hours=4), None)
    apply(task, TaskEvent.HOLD, NOW)
    assert (task.status, task.next_attempt_at) == (TaskStatus.HELD, NOW + timedelta(hours=4))  # paused, kept


@pytest.mark.parametrize("status", [TaskStatus.DIALING, TaskStatus.IN_PROGRESS])
def test_reopening_a_task_whose_call_is_live_is_illegal_and_changes_nothing(status: TaskStatus) -> None:
    task = fresh(status)
    task.claimed_by, task.claimed_at, task.lease_expires_at = "d1", NOW, NOW + timedelta(minutes=5)
    with pytest.raises(IllegalTransition, match=f"cannot take reopen while {status.value}"):
        apply(task, TaskEvent.REOPEN, NOW + timedelta(minutes=1))
    assert (task.status, task.claimed_by, task.updated_at) == (status, "d1", NOW)


def test_a_cancelled_task_is_final() -> None:
    assert [e for e in TaskEvent if allowed(TaskStatus.CANCELLED, e)] == []
    with pytest.raises(IllegalTransition):
        target(TaskStatus.CANCELLED, TaskEvent.REOPEN)


def test_events_that_need_values_refuse_without_them() -> None:
    with pytest.raises(ValueError, match="claim needs lease_until"):
        apply(fresh(), TaskEvent.CLAIM, NOW, claimed_by="d1")
    with pytest.raises(ValueError, match="complete needs result_class"):
        apply(fresh(), TaskEvent.COMPLETE, NOW)


def test_every_state_is_reachable_and_every_row_leads_to_a_known_state() -> None:
    reached = {TaskStatus.QUEUED}
    for _ in range(len(TaskStatus)):
        reached |= {to for (frm, _event), to in TRANSITIONS.items() if frm in reached}
    assert reached == set(TaskStatus)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(TaskEvent)), st.integers(min_value=1, max_value=600)),
                max_size=40))
def test_random_event_sequences_never_reach_an_illegal_state(steps: list[tuple[TaskEvent, int]]) -> None:
    task = fresh()
    at = NOW
    for event, minutes in steps:
        at += timedelta(minutes=minutes)
        before = (task.status, task.claimed_by, task.lease_expires_at, task.next_attempt_at, task.result_class)
        if allowed(task.status, event):
            fire(task, event, at)
            assert task.status is target(before[0], event)
        else:
            with pytest.raises(IllegalTransition):
                fire(task, event, at)
            assert (task.status, task.claimed_by, task.lease_expires_at, task.next_attempt_at,
                    task.result_class) == before
        assert check(task) == [], (event, task.status)
