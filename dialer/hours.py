"""When the robot may call: calling hours, callable day types, appointments, parts of the day.

Pure rules over the business calendar; every "now" comes from the caller (one clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ
from kit.settings import DialerSettings

SEARCH_DAYS = 60  # a window is always found well within this (the longest holiday is 8 days)


@dataclass(frozen=True)
class CallingRules:
    start: time
    end: time
    night_start: time
    night_end: time
    dayparts: tuple[time, ...]
    workdays: bool
    weekends: bool
    holidays: bool
    calendar: BusinessCalendar

    @classmethod
    def from_settings(cls, settings: DialerSettings, calendar: BusinessCalendar) -> CallingRules:
        return cls(
            start=time.fromisoformat(settings.calling_hours_start),
            end=time.fromisoformat(settings.calling_hours_end),
            night_start=time.fromisoformat(settings.night_start),
            night_end=time.fromisoformat(settings.night_end),
            dayparts=tuple(time.fromisoformat(p) for p in settings.dayparts),
            workdays=settings.call_on_workdays,
            weekends=settings.call_on_weekends,
            holidays=settings.call_on_holidays,
            calendar=calendar,
        )

    # -- days and hours ------------------------------------------------------------------------

    def day_callable(self, day: date) -> bool:
        if self.calendar.is_workday(day):  # make-up workdays (调休) included
            return self.workdays
        if self.calendar.is_statutory_holiday(day):
            return self.holidays
        return self.weekends

    def in_window(self, at: datetime) -> bool:
        local = at.astimezone(BUSINESS_TZ)
        return self.day_callable(local.date()) and self.start <= local.time() < self.end

    def is_night(self, at: datetime) -> bool:
        clock = at.astimezone(BUSINESS_TZ).time()
        return clock >= self.night_start or clock < self.night_end

    def appointment_allowed(self, at: datetime) -> bool:
        """An appointment overrides the window's start and the day type, never the night."""
        return not self.is_night(at)

    def next_callable(self, at: datetime) -> datetime:
        """The earliest instant at or after `at` inside the calling window."""
        local = at.astimezone(BUSINESS_TZ)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if self.day_callable(day):
                opens = _at(day, self.start)
                closes = _at(day, self.end)
                if local < opens:
                    return opens
                if local < closes:
                    return local
            day += timedelta(days=1)
            local = _at(day, time(0))
        raise ValueError(f"no callable day within {SEARCH_DAYS} days of {at.isoformat()}: check [dialer] day types")

    def window_end(self, day: date) -> datetime:
        return _at(day, self.end)

    # -- parts of the day ----------------------------------------------------------------------

    def daypart(self, at: datetime) -> int:
        clock = at.astimezone(BUSINESS_TZ).time()
        return max((i for i, start in enumerate(self.dayparts) if start <= clock), default=0)

    def next_in_new_daypart(self, at: datetime, avoid: set[int], new_day_from: set[date] | None = None) -> datetime:
        """The first callable instant ≥ `at` whose part of the day is not in `avoid` (and, when
        `new_day_from` is given, on a day not in it). Falls back to `next_callable(at)` if none in reach."""
        candidate = self.next_callable(at)
        for _ in range(SEARCH_DAYS * len(self.dayparts)):
            local = candidate.astimezone(BUSINESS_TZ)
            day_ok = new_day_from is None or local.date() not in new_day_from
            if day_ok and self.daypart(candidate) not in avoid:
                return candidate
            candidate = self.next_callable(self._next_daypart_start(candidate))
        return self.next_callable(at)

    def _next_daypart_start(self, at: datetime) -> datetime:
        local = at.astimezone(BUSINESS_TZ)
        for start in self.dayparts:
            if start > local.time():
                return _at(local.date(), start)
        return _at(local.date() + timedelta(days=1), self.dayparts[0])


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=BUSINESS_TZ)
