"""Moving a callback to another channel by hand: who may, what happens to the task, the work order, the audit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.switch import ChannelRefused, Moved, move
from flows.vocab import CaseType, ResultClass
from kit.actor import Actor, NotAllowed, Role, operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallbackChannel, TaskStatus
from storage.models import AuditEvent, CallbackTask, Case
from tasks.lifecycle import TaskEvent, apply
from tests.factories import policy_row
from tests.intake.test_service import make

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 26, 10, tzinfo=BUSINESS_TZ)
OPERATOR = operator_actor("张经理")


@pytest.fixture
def task(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> CallbackTask:
    make(session, tmp_path, settings, clock)([policy_row(policy_no="M1")])
    return session.scalars(select(CallbackTask)).one()


def _move(session: Session, task: CallbackTask, to: CallbackChannel, settings: Settings,
          calendar: BusinessCalendar, actor: Actor = OPERATOR, reason: str = "投保人要求短信回访") -> Moved:
    return move(session, task, to, actor=actor, reason=reason, now=NOW, settings=settings, calendar=calendar)


def test_a_queued_callback_moves_to_the_e_callback_and_is_audited(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar) -> None:
    moved = _move(session, task, CallbackChannel.ECALLBACK, settings, calendar)
    assert (moved.before, moved.after, moved.changed, moved.case_id) == (
        CallbackChannel.PHONE, CallbackChannel.ECALLBACK, True, None)
    assert (task.status, task.channel) == (TaskStatus.QUEUED, CallbackChannel.ECALLBACK)
    entry = session.scalars(select(AuditEvent)).one()
    assert (entry.operator, entry.action, entry.target, entry.reason, entry.detail) == (
        "张经理", "channel", "policy M1", "投保人要求短信回访", "phone → ecallback")
    again = _move(session, task, CallbackChannel.ECALLBACK, settings, calendar)
    assert not again.changed
    assert len(session.scalars(select(AuditEvent)).all()) == 1  # the same request again changes nothing


@pytest.mark.parametrize(("to", "case_type"), [(CallbackChannel.LETTER, CaseType.LETTER_CASE),
                                               (CallbackChannel.VISIT, CaseType.IN_PERSON_VISIT_CASE)])
def test_a_letter_or_visit_gives_the_branch_its_work_order_once(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar,
        to: CallbackChannel, case_type: CaseType) -> None:
    moved = _move(session, task, to, settings, calendar)
    case = session.get(Case, moved.case_id)
    assert case is not None
    assert (case.type, case.task_id) == (case_type, task.id)
    assert "投保人要求短信回访" in case.detail
    _move(session, task, CallbackChannel.PHONE, settings, calendar)
    _move(session, task, to, settings, calendar)
    assert len(session.scalars(select(Case).where(Case.type == case_type)).all()) == 1


def test_an_unreachable_callback_is_reopened_on_the_new_channel(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar) -> None:
    apply(task, TaskEvent.COMPLETE, NOW, result_class=ResultClass.VERIFICATION, reason_codes=["unreachable"])
    _move(session, task, CallbackChannel.ECALLBACK, settings, calendar)
    assert (task.status, task.result_class, task.reason_codes) == (TaskStatus.QUEUED, None, [])


@pytest.mark.parametrize(("status", "result", "message"), [
    (TaskStatus.COMPLETED, ResultClass.STANDARD, "already succeeded"),
    (TaskStatus.CANCELLED, None, "is cancelled"),
])
def test_a_finished_callback_is_refused_with_the_rule(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar,
        status: TaskStatus, result: ResultClass | None, message: str) -> None:
    task.status, task.result_class = status, result
    with pytest.raises(ChannelRefused, match=message):
        _move(session, task, CallbackChannel.LETTER, settings, calendar)
    assert task.channel is CallbackChannel.PHONE
    assert session.scalars(select(AuditEvent)).all() == []


def test_a_reason_is_required(session: Session, task: CallbackTask, settings: Settings,
                              calendar: BusinessCalendar) -> None:
    with pytest.raises(ChannelRefused, match="--reason"):
        _move(session, task, CallbackChannel.LETTER, settings, calendar, reason="  ")


def test_another_branch_and_a_reader_cannot_move_it(
        session: Session, task: CallbackTask, settings: Settings, calendar: BusinessCalendar) -> None:
    other = Actor.of("王五", [Role.BRANCH], ["999999"])
    with pytest.raises(ChannelRefused, match="not in 王五's branches"):
        _move(session, task, CallbackChannel.LETTER, settings, calendar, actor=other)
    with pytest.raises(NotAllowed):
        _move(session, task, CallbackChannel.LETTER, settings, calendar, actor=Actor.of("qa1", [Role.QA]))
    assert task.channel is CallbackChannel.PHONE
