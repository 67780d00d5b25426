"""Business-day calendar: Chinese statutory holidays and make-up workdays (调休).

Years the `chinesecalendar` package knows come from it; any other year must be given in the editable
table (config `[calendar.years.YYYY]`). Asking about a year that neither knows is an error, never a guess:
the State Council publishes each year's holiday plan late in the year before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from chinese_calendar import constants as _cc_constants


class UnknownCalendarYear(LookupError):
    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"the business calendar has no holiday data for {year}: "
            f"add [calendar.years.{year}] with its holidays and make-up workdays to the config"
        )


@dataclass(frozen=True)
class YearTable:
    """Days off and make-up workdays of one year; every other weekday is a workday, weekends are off."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)


_PACKAGE_YEARS = range(min(_cc_constants.holidays).year, max(_cc_constants.holidays).year + 1)


class BusinessCalendar:
    def __init__(self, extra_years: Mapping[int, YearTable] | None = None) -> None:
        self._extra: dict[int, YearTable] = dict(extra_years or {})
        self._workday_memo: dict[date, bool] = {}

    def knows_year(self, year: int) -> bool:
        return year in self._extra or year in _PACKAGE_YEARS

    def is_workday(self, day: date) -> bool:
        known = self._workday_memo.get(day)
        if known is None:
            known = self._workday_memo[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> bool:
        table = self._extra.get(day.year)
        if table is not None:
            if day in table.workdays:
                return True
            if day in table.holidays:
                return False
            if day.year not in _PACKAGE_YEARS:
                return day.weekday() < 5
        if day.year not in _PACKAGE_YEARS:
            raise UnknownCalendarYear(day.year)
        return bool(chinese_calendar.is_workday(day))

    def is_day_off(self, day: date) -> bool:
        """法定休假日 in the Civil Code's sense: weekends and statutory holidays, less make-up workdays."""
        return not self.is_workday(day)

    def is_statutory_holiday(self, day: date) -> bool:
        """A day off of a statutory holiday period (Spring Festival, National Day …), weekend or not."""
        if self.is_workday(day):
            return False
        table = self._extra.get(day.year)
        if table is not None and (day in table.holidays or day.year not in _PACKAGE_YEARS):
            return day in table.holidays
        _, name = chinese_calendar.get_holiday_detail(day)
        return name is not None

    def next_workday_on_or_after(self, day: date) -> date:
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (start itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        remaining = days
        while remaining:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day


def age_on(birth: date, day: date) -> int:
    """Whole years of age on `day` (a birthday counts from its own day)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
