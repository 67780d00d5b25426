"""Pacing placements to the account's calls per second (Twilio's CPS is per account: docs/twilio-facts.md §2.11).

`SharedPacer` is what `huifang dialer` uses: every dialer process takes its slots from one row per account in
the database (storage.repositories.pacing), so four dialers together place no more than `calls_per_second`.
A slot is reserved in a short transaction of its own (row-locked, committed at once) and waited for after
the commit: a dialer waiting for its slot holds no transaction and no lock. Slots are 1/cps apart on the
database's clock (strict spacing, no burst), and each dialer reserves one slot at a time, just before the
call it is for; a slot not used (the placement failed) is simply lost.

`Pacer` paces one process on its own monotonic clock: the simulated campaign and unit tests (`Pacer(0)`:
unpaced).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from storage.db import unit_of_work
from storage.repositories.pacing import take_slot


class Pacing(Protocol):
    def wait(self) -> float:
        """Block until the next placement may go; returns the seconds waited."""


class Pacer:
    """At most `cps` placements per second from this process (0: unlimited), on the monotonic clock."""

    def __init__(self, cps: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / cps if cps > 0 else 0.0
        self.monotonic, self.sleep = monotonic, sleep
        self._next = 0.0

    def wait(self) -> float:
        if not self.interval:
            return 0.0
        now = self.monotonic()
        waited = 0.0
        if self._next > now:
            waited = self._next - now
            self.sleep(waited)
            now = self._next
        self._next = now + self.interval
        return waited


class SharedPacer:
    """At most `cps` placements per second from every dialer process together (0: unlimited)."""

    def __init__(self, sessions: sessionmaker[Session], cps: float, account: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.sessions, self.account, self.sleep = sessions, account or "default", sleep
        # rounded up to the microsecond the database keeps: cps slots never fit in less than a second
        self.interval = timedelta(microseconds=math.ceil(1_000_000 / cps)) if cps > 0 else None
        self.last_slot: datetime | None = None  # the slot of the latest placement, on the database's clock

    def wait(self) -> float:
        if self.interval is None:
            return 0.0
        with unit_of_work(self.sessions) as session:
            slot, now = take_slot(session, self.account, self.interval)
            session.commit()  # the reservation stands; the row lock is released before any waiting
        self.last_slot = slot
        waited = max(0.0, (slot - now).total_seconds())
        if waited:
            self.sleep(waited)
        return waited
