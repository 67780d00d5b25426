"""What the dialers are doing: each dialer's heartbeat (written at the end of its every tick), the pauses in
force and the due backlog — `huifang dialer status` and the console's dialer page read the same view.

A dialer is stale when it has not ticked for `dialer.stale_after_ticks` of its own tick intervals (it stopped,
hangs, or lost the database); a one-off run (`huifang dialer --once`) has no interval and is never stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from dialer.controls import VIEWERS, PauseView, pauses_in_force
from kit.actor import Actor
from kit.clock import business_start_of, isoformat_local
from kit.vocab import TaskStatus
from storage.models import CallbackTask, DialerHeartbeat
from storage.repositories import claims

FORGET_AFTER = timedelta(days=1)  # a heartbeat not written for this long is removed (the process is long gone)


@dataclass(frozen=True)
class Beat:
    """What a dialer reports at the end of a tick."""

    name: str
    started_at: datetime
    at: datetime
    ticks_every_s: int | None
    placed: int
    paused: int
    backoff_until: datetime | None
    cps: float
    cps_limit: float


def record_tick(session: Session, beat: Beat) -> DialerHeartbeat:
    """Write the dialer's heartbeat (its claims in flight counted now); a dialer's first heartbeat also removes
    those of dialers silent for a day (FORGET_AFTER)."""
    in_flight = session.scalar(
        select(func.count()).select_from(CallbackTask)
        .where(CallbackTask.claimed_by == beat.name, CallbackTask.status.in_(claims.ACTIVE),
               CallbackTask.lease_expires_at >= beat.at)) or 0
    row = session.get(DialerHeartbeat, beat.name)
    if row is None:  # a dialer starting: the rows of dialers long gone are removed now (not at every tick)
        session.execute(delete(DialerHeartbeat).where(DialerHeartbeat.last_tick_at < beat.at - FORGET_AFTER))
        row = DialerHeartbeat(name=beat.name, started_at=beat.started_at)
        session.add(row)
    row.last_tick_at, row.ticks_every_s, row.in_flight, row.placed = beat.at, beat.ticks_every_s, in_flight, beat.placed
    row.paused, row.backoff_until, row.cps, row.cps_limit = beat.paused, beat.backoff_until, beat.cps, beat.cps_limit
    session.flush()
    return row


@dataclass(frozen=True)
class DialerView:
    name: str
    started_at: datetime
    last_tick: datetime
    ticks_every_s: int | None
    in_flight: int
    placed: int
    backoff_until: datetime | None  # None unless it is backing off now
    cps: float
    cps_limit: float
    stale: bool

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "last_tick": isoformat_local(self.last_tick), "in_flight": self.in_flight,
                "stale": self.stale, "backoff_until": isoformat_local(self.backoff_until) if self.backoff_until
                else None, "cps": self.cps, "cps_limit": self.cps_limit, "placed_last_tick": self.placed,
                "ticks_every_s": self.ticks_every_s, "started_at": isoformat_local(self.started_at)}


@dataclass(frozen=True)
class Status:
    paused: list[PauseView]
    dialers: list[DialerView]
    due: int  # queued tasks due now (calling hours aside)
    due_paused: int  # ... of which the pauses hold back

    def as_json(self) -> dict[str, Any]:
        return {"paused": [p.as_json() for p in self.paused], "dialers": [d.as_json() for d in self.dialers],
                "due": self.due, "due_paused": self.due_paused}


def dialers(session: Session, now: datetime, stale_after_ticks: int) -> list[DialerView]:
    """Every dialer seen in the last day, the latest tick first."""
    out: list[DialerView] = []
    for row in session.scalars(select(DialerHeartbeat).where(DialerHeartbeat.last_tick_at >= now - FORGET_AFTER)
                               .order_by(DialerHeartbeat.last_tick_at.desc(), DialerHeartbeat.name)):
        stale = (row.ticks_every_s is not None
                 and now - row.last_tick_at > timedelta(seconds=stale_after_ticks * row.ticks_every_s))
        backing_off = row.backoff_until if row.backoff_until is not None and row.backoff_until > now else None
        out.append(DialerView(row.name, row.started_at, row.last_tick_at, row.ticks_every_s, row.in_flight,
                              row.placed, backing_off, row.cps, row.cps_limit, stale))
    return out


def status(session: Session, actor: Actor, *, now: datetime, today: date, stale_after_ticks: int) -> Status:
    actor.require(VIEWERS, "see the dialers")
    paused = pauses_in_force(session)
    scopes = [(p.branch, p.product_type) for p in paused]
    return Status(paused, dialers(session, now, stale_after_ticks), claims.due_backlog(session, now, today),
                  claims.due_backlog(session, now, today, scopes) if scopes else 0)


@dataclass(frozen=True)
class Backlog:
    """Today's queued tasks by the hour they come due (Beijing time): `at_start` were due when the day began
    (left from earlier days, or opened today), `hours[h]` come due in hour h (a retry time or an appointment)."""

    day: date
    at_start: int
    hours: list[int]

    @property
    def total(self) -> int:
        return self.at_start + sum(self.hours)


def backlog_by_hour(session: Session, actor: Actor, today: date) -> Backlog:
    """Queued tasks open today, by when they come due: one query, a count per hour boundary."""
    actor.require(VIEWERS, "see the dialers")
    start = business_start_of(today)
    bounds = [start + timedelta(hours=h) for h in range(25)]

    def due_before(at: datetime) -> Any:
        return func.coalesce(func.sum(case((and_(
            or_(CallbackTask.next_attempt_at.is_(None), CallbackTask.next_attempt_at < at),
            or_(CallbackTask.appointment_at.is_(None), CallbackTask.appointment_at < at)), 1), else_=0)), 0)

    row = session.execute(select(*(due_before(at) for at in bounds))
                          .where(CallbackTask.status == TaskStatus.QUEUED, CallbackTask.opens_on <= today)).one()
    counts = [int(n) for n in row]
    return Backlog(today, counts[0], [counts[h + 1] - counts[h] for h in range(24)])
