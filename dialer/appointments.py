"""A time the customer booked for the callback (预约回访): it goes before other due tasks and may be before
the calling hours, never in the night."""

from __future__ import annotations

from datetime import datetime

from dialer.hours import CallingRules
from kit.clock import isoformat_local
from kit.vocab import TaskStatus
from storage.models import CallbackTask
from tasks.lifecycle import TaskEvent, apply


class AppointmentRefused(ValueError):
    """Why the time cannot be booked: the message in English (CLI), `code` for front doors that translate it
    (not_waiting, no_offset, not_future, night)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def book(task: CallbackTask, at: datetime, *, now: datetime, rules: CallingRules) -> None:
    if task.status not in (TaskStatus.QUEUED, TaskStatus.HELD):
        raise AppointmentRefused(f"the task is {task.status.value}: only a task waiting for its call can be booked",
                                 "not_waiting")
    if at.tzinfo is None:
        raise AppointmentRefused("the appointment needs a UTC offset, e.g. 2026-11-26T08:30:00+08:00", "no_offset")
    if at <= now:
        raise AppointmentRefused(f"{isoformat_local(at)} is not in the future", "not_future")
    if not rules.appointment_allowed(at):
        raise AppointmentRefused(f"{isoformat_local(at)} is in the night: the robot never calls then", "night")
    apply(task, TaskEvent.BOOK, now, appointment_at=at)
