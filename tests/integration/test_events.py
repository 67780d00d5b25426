"""The outbox: every result change and case opening/closing records one event in the change's transaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cases.service import NewCase, close_case_ids, open_cases
from flows.vocab import CaseType, ResultClass
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.db import make_session_factory, unit_of_work
from storage.models import Policy
from tasks.lifecycle import TaskEvent, apply
from tests.integration.world import events, import_policies, task_of


def test_a_result_is_recorded_once_per_change(session: Session, tmp_path: Path, settings: Settings,
                                              clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["R1"])
    task = task_of(session, "R1")
    apply(task, TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.PROBLEM, reason_codes=["thought_deposit"])
    session.flush()
    [first] = events(session)
    assert (first.type, first.policy_no, first.created_at) == ("task.result", "R1", clock.now())
    assert first.payload["result_class"] == "problem"
    assert first.payload["previous_result_class"] is None
    assert first.payload["reason_codes"] == ["thought_deposit"]
    assert first.payload["task_status"] == "completed"
    assert len(first.event_id) == 36
    assert first.delivered_at is None
    assert first.attempts == 0

    clock.advance(timedelta(minutes=5))  # the same result again (a replayed outcome): no new event
    apply(task, TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.PROBLEM, reason_codes=["thought_deposit"])
    session.flush()
    assert len(events(session)) == 1

    apply(task, TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.STANDARD)  # an agent's re-classification
    apply(task, TaskEvent.REVERT, clock.now())  # no recording: the result is withdrawn
    apply(task, TaskEvent.CLAIM, clock.now(), claimed_by="d", lease_until=clock.now() + timedelta(minutes=5))
    apply(task, TaskEvent.CANCEL, clock.now())  # surrendered
    session.flush()
    changes = [(e.payload["previous_result_class"], e.payload["result_class"], e.payload["task_status"])
               for e in events(session)]
    assert changes == [(None, "problem", "completed"), ("problem", "standard", "completed"),
                       ("standard", None, "queued"), (None, None, "cancelled")]
    assert len({e.event_id for e in events(session)}) == 4


def test_a_rolled_back_change_records_nothing(engine: Engine, session: Session, tmp_path: Path, settings: Settings,
                                             clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["R1"])
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as work:  # no commit: rolled back at the block's end
        apply(task_of(work, "R1"), TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.STANDARD)
        work.flush()
        assert len(events(work)) == 1  # written in the change's own transaction...
    with unit_of_work(sessions) as check:
        assert events(check) == []
        assert task_of(check, "R1").result_class is None
    with unit_of_work(sessions) as work:
        apply(task_of(work, "R1"), TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.STANDARD)
        work.commit()
    with unit_of_work(sessions) as check:
        assert [e.policy_no for e in events(check)] == ["R1"]


def test_cases_opening_and_closing_are_recorded(session: Session, tmp_path: Path, settings: Settings,
                                               clock: FrozenClock, calendar: BusinessCalendar) -> None:
    import_policies(session, tmp_path, settings, clock, ["C1", "C2"])
    policies = {p.policy_no: p for p in session.query(Policy)}
    opened = [NewCase(policies[no].id, task_of(session, no).id, policies[no].branch_id,
                      CaseType.VERIFICATION_CASE, "wrong_number", "号码错误") for no in ("C1", "C2")]
    open_cases(session, opened, now=clock.now(), settings=settings.cases, calendar=calendar)
    session.flush()
    recorded = events(session, "case.opened")
    assert [(e.policy_no, e.payload["case_type"], e.payload["status"]) for e in recorded] == [
        ("C1", "verification_case", "open"), ("C2", "verification_case", "open")]
    case_id = recorded[1].payload["case_id"]
    assert close_case_ids(session, [case_id], now=clock.now(), action="done", note="") == 1
    assert close_case_ids(session, [case_id], now=clock.now(), action="done", note="") == 0  # closed already
    session.flush()
    [closed] = events(session, "case.closed")
    assert (closed.policy_no, closed.payload["case_id"], closed.payload["status"],
            closed.payload["resolution_action"]) == ("C2", case_id, "closed", "done")
