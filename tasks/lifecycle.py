"""A callback task's life: one transition table (from-state, event → to-state) and which fields each event
resets. Every change of a task's status, lease, next attempt, appointment or result goes through
`apply` — the dialer, a call's end, a branch's case handling and intake alike — so they cannot disagree.

    queued ──claim──► dialing ──placed──► in_progress ──complete──► completed
      ▲  ▲               │ release          │ retry / hold               │ reopen / revert
      │  └───────────────┘                  ▼                            ▼
      └──────────────── queued / held ◄─────────────────────────────── queued / held
    any but cancelled ──cancel──► cancelled

Invariants (checked by `check`, property-tested): only `dialing` and `in_progress` hold a claim and a lease;
only `queued` and `held` have a next attempt time (a hold pauses the schedule); a `completed` task has a result and only a completed (or later
cancelled) one does; `cancelled` is final. An event the table does not allow from the task's state raises `IllegalTransition` and changes
nothing.

A change of the task's outcome (its result, reason codes, completion or cancellation) records a `task.result`
integration event in the same session (integration.events): every result change passes here, so none is missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flows.vocab import ResultClass
from integration.events import task_outcome, task_outcome_changed
from kit.vocab import TaskStatus
from storage.models import CallbackTask


class TaskEvent(StrEnum):
    CLAIM = "claim"  # a dialer takes a due task (a lease; an expired lease may be re-claimed)
    ADOPT = "adopt"  # a dead dialer's placement turned out to have happened: the call is under way
    PLACED = "placed"  # the provider accepted the call
    RELEASE = "release"  # a claim given back (back-off, shutdown)
    ANSWERED = "answered"  # the call was answered and its flow started
    RETRY = "retry"  # not reached (or not yet): call again at `next_attempt_at`
    HOLD = "hold"  # a phone-quality problem: not dialled until released
    RELEASE_HOLD = "release_hold"  # the last hold was released
    COMPLETE = "complete"  # the callback has its result
    REOPEN = "reopen"  # a branch's handling asks for another callback
    REVERT = "revert"  # a result that cannot stand (e.g. no recording): back to the dialer
    BOOK = "book"  # an appointment set
    CANCEL = "cancel"  # no callback any more (surrender, not required after a re-import)


Q, H, D, P, C, X = (TaskStatus.QUEUED, TaskStatus.HELD, TaskStatus.DIALING, TaskStatus.IN_PROGRESS,
                    TaskStatus.COMPLETED, TaskStatus.CANCELLED)

# (from, event) → to. Anything else is illegal.
TRANSITIONS: dict[tuple[TaskStatus, TaskEvent], TaskStatus] = {
    (Q, TaskEvent.CLAIM): D,
    (D, TaskEvent.CLAIM): D,  # the lease ran out: another dialer takes it over
    (D, TaskEvent.ADOPT): P,
    (D, TaskEvent.PLACED): P,
    (D, TaskEvent.RELEASE): Q,
    (D, TaskEvent.ANSWERED): P,  # Twilio's answer webhook may beat the dialer's post-placement commit
    (P, TaskEvent.ANSWERED): P,
    (Q, TaskEvent.ANSWERED): P,  # a call placed outside the dialer (a simulated call, a test)
    (Q, TaskEvent.RETRY): Q,
    (D, TaskEvent.RETRY): Q,
    (P, TaskEvent.RETRY): Q,
    (Q, TaskEvent.HOLD): H,
    (H, TaskEvent.HOLD): H,
    (D, TaskEvent.HOLD): H,
    (P, TaskEvent.HOLD): H,
    (H, TaskEvent.RELEASE_HOLD): Q,
    (Q, TaskEvent.COMPLETE): C,
    (H, TaskEvent.COMPLETE): C,  # a letter or visit callback done while the number is still held
    (D, TaskEvent.COMPLETE): C,
    (P, TaskEvent.COMPLETE): C,
    (C, TaskEvent.COMPLETE): C,  # re-classified (an agent's outcome on a finished call)
    (Q, TaskEvent.REOPEN): Q,
    (C, TaskEvent.REOPEN): Q,
    (H, TaskEvent.REOPEN): H,  # still held: it is called once the number is fixed
    (C, TaskEvent.REVERT): Q,
    (Q, TaskEvent.BOOK): Q,
    (H, TaskEvent.BOOK): H,
    (Q, TaskEvent.CANCEL): X,
    (H, TaskEvent.CANCEL): X,
    (D, TaskEvent.CANCEL): X,
    (P, TaskEvent.CANCEL): X,
    (C, TaskEvent.CANCEL): X,
}

ACTIVE = frozenset({D, P})  # a claim and a lease: a call is being placed or is under way
LEASED = frozenset({TaskEvent.CLAIM, TaskEvent.ADOPT, TaskEvent.PLACED, TaskEvent.ANSWERED})
CALL_LEASE_MARGIN = timedelta(minutes=10)


def call_lease(max_call_seconds: int) -> timedelta:
    """How long a task stays in_progress without news of its call: the call's time limit plus a margin."""
    return timedelta(seconds=max_call_seconds) + CALL_LEASE_MARGIN


class IllegalTransition(ValueError):
    """The event is not allowed from the task's state; the message says both."""


@dataclass(frozen=True)
class Change:
    """What an event did to a task (actions report it; tests and the property test read it)."""

    task_id: int
    event: TaskEvent
    before: TaskStatus
    after: TaskStatus


def target(status: TaskStatus, event: TaskEvent) -> TaskStatus:
    """The state `event` leads to from `status`; IllegalTransition when the table has no such row."""
    after = TRANSITIONS.get((status, event))
    if after is None:
        allowed = sorted(s.value for (s, e) in TRANSITIONS if e is event)
        raise IllegalTransition(f"task cannot take {event.value} while {status.value} "
                                f"(only from {', '.join(allowed)})")
    return after


def allowed(status: TaskStatus, event: TaskEvent) -> bool:
    return (status, event) in TRANSITIONS


def apply(task: CallbackTask, event: TaskEvent, now: datetime, *, claimed_by: str | None = None,
          lease_until: datetime | None = None, next_attempt_at: datetime | None = None,
          appointment_at: datetime | None = None, result_class: ResultClass | None = None,
          reason_codes: Sequence[str] = ()) -> Change:
    """Move the task by `event`, resetting what the event resets. Raises before changing anything."""
    before = task.status
    after = target(before, event)
    if event in LEASED and lease_until is None:
        raise ValueError(f"{event.value} needs lease_until")
    if event in (TaskEvent.CLAIM, TaskEvent.ANSWERED) and not claimed_by:
        raise ValueError(f"{event.value} needs claimed_by")
    if event is TaskEvent.COMPLETE and result_class is None:
        raise ValueError("complete needs result_class")
    if event is TaskEvent.BOOK and appointment_at is None:
        raise ValueError("book needs appointment_at")
    outcome = task_outcome(task)
    task.status = after
    task.updated_at = now
    if after not in ACTIVE:
        task.claimed_by = task.claimed_at = task.lease_expires_at = None
    if after not in (Q, H):  # a hold pauses the schedule: released, the task resumes it
        task.next_attempt_at = None
    if event is TaskEvent.CLAIM or (event is TaskEvent.ANSWERED and before is Q):
        task.claimed_by, task.claimed_at, task.lease_expires_at = claimed_by, now, lease_until
    elif event in LEASED:
        task.lease_expires_at = lease_until
        if event is TaskEvent.PLACED:  # the booked time and the retry time are used up by this call
            task.appointment_at = None
    elif event is TaskEvent.RETRY:
        task.next_attempt_at = next_attempt_at
    elif event is TaskEvent.BOOK:
        task.appointment_at, task.next_attempt_at = appointment_at, None
    elif event is TaskEvent.COMPLETE:
        task.result_class, task.reason_codes, task.completed_at = result_class, list(reason_codes), now
        task.appointment_at = None
    elif event in (TaskEvent.REOPEN, TaskEvent.REVERT):
        task.result_class, task.reason_codes, task.completed_at = None, [], None
    elif event is TaskEvent.CANCEL:
        task.appointment_at = None
    task_outcome_changed(task, outcome, now=now)  # the outbox event, in the caller's transaction (integration)
    return Change(task.id, event, before, after)


def check(task: CallbackTask) -> list[str]:
    """What is wrong with the task's fields for its state (empty when nothing is)."""
    problems = []
    active = task.status in ACTIVE
    if active and (task.claimed_by is None or task.lease_expires_at is None):
        problems.append(f"{task.status.value} without a claim and a lease")
    if not active and (task.claimed_by or task.claimed_at or task.lease_expires_at):
        problems.append(f"{task.status.value} still holding a claim or a lease")
    if task.next_attempt_at is not None and task.status not in (Q, H):
        problems.append(f"{task.status.value} with a next attempt time")
    has_result = task.result_class is not None or task.completed_at is not None
    if task.status is C and not has_result:
        problems.append("completed without a result")
    if has_result and task.status not in (C, X):  # a cancelled callback keeps what it had found
        problems.append(f"{task.status.value} with a result")
    return problems
