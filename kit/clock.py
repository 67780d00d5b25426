"""The one clock (architecture invariant 1). Every rule that looks at "now" takes a Clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: tests and the simulated campaign use it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at = self._at + delta


class ShiftedClock:
    """Real time moved to start at `at`: the demo's console runs on from where its virtual campaign ended."""

    def __init__(self, at: datetime, real: Clock | None = None) -> None:
        if at.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware datetime")
        self._real = real or SystemClock()
        self._offset = at - self._real.now()

    def now(self) -> datetime:
        return self._real.now() + self._offset


def business_today(clock: Clock) -> date:
    """Today's business date (Asia/Shanghai)."""
    return clock.now().astimezone(BUSINESS_TZ).date()


def business_start_of(day: date) -> datetime:
    """00:00 Asia/Shanghai on `day`, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TZ)


def isoformat_local(at: datetime) -> str:
    """An instant as ISO 8601 with the business offset, e.g. 2026-11-25T10:00:00+08:00."""
    return at.astimezone(BUSINESS_TZ).isoformat(timespec="seconds")
