"""Calling hours, day types and parts of the day, on the real 2026 calendar (Asia/Shanghai)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from dialer.hours import CallingRules
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ
from kit.settings import DialerSettings

RULES = CallingRules.from_settings(DialerSettings(), BusinessCalendar())


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=BUSINESS_TZ)


@pytest.mark.parametrize(("clock", "inside"), [("08:59", False), ("09:00", True), ("20:59", True),
                                               ("21:00", False), ("21:01", False)])
def test_the_window_edges(clock: str, inside: bool) -> None:
    assert RULES.in_window(at("2026-11-25", clock)) is inside  # a Wednesday


def test_day_types_from_the_calendar() -> None:
    assert RULES.day_callable(date(2026, 11, 28))  # a Saturday: weekends are callable by default
    assert not RULES.day_callable(date(2026, 10, 1))  # National Day
    assert not RULES.day_callable(date(2026, 2, 17))  # Spring Festival
    assert RULES.day_callable(date(2026, 2, 14))  # a Saturday that is a make-up workday (调休)
    weekdays_only = CallingRules.from_settings(DialerSettings(call_on_weekends=False), BusinessCalendar())
    assert not weekdays_only.day_callable(date(2026, 11, 28))
    assert weekdays_only.day_callable(date(2026, 2, 14))  # a make-up workday counts as a workday
    assert not weekdays_only.day_callable(date(2026, 10, 3))  # a holiday Saturday is a holiday


def test_next_callable_skips_the_night_and_the_holiday() -> None:
    assert RULES.next_callable(at("2026-11-25", "21:30")) == at("2026-11-26", "09:00")
    assert RULES.next_callable(at("2026-11-25", "10:15")) == at("2026-11-25", "10:15")
    assert RULES.next_callable(at("2026-09-30", "20:59")) == at("2026-09-30", "20:59")
    assert RULES.next_callable(at("2026-09-30", "21:00")) == at("2026-10-08", "09:00")  # National Day 1–7


def test_appointments_move_the_start_but_never_into_the_night() -> None:
    assert RULES.appointment_allowed(at("2026-11-25", "08:30"))
    assert not RULES.appointment_allowed(at("2026-11-25", "07:59"))
    assert not RULES.appointment_allowed(at("2026-11-25", "21:00"))
    assert RULES.appointment_allowed(at("2026-10-02", "10:00"))  # a booked time overrides the day type


def test_parts_of_the_day() -> None:
    assert [RULES.daypart(at("2026-11-25", c)) for c in ("09:00", "11:59", "12:00", "17:30")] == [0, 0, 1, 2]
    # after a morning try, the next part not tried yet
    assert RULES.next_in_new_daypart(at("2026-11-25", "11:00"), {0}) == at("2026-11-25", "12:00")
    # morning and afternoon tried: the evening
    assert RULES.next_in_new_daypart(at("2026-11-25", "13:00"), {0, 1}) == at("2026-11-25", "17:00")
    # a new day is asked for
    assert RULES.next_in_new_daypart(at("2026-11-25", "13:00"), {1}, {date(2026, 11, 25)}) == at("2026-11-26", "09:00")


def test_a_year_without_holiday_data_is_an_error_not_a_guess() -> None:
    from kit.calendar import UnknownCalendarYear

    with pytest.raises(UnknownCalendarYear, match=r"\[calendar.years.2027\]"):
        RULES.next_callable(at("2027-03-01", "10:00"))


def test_settings_are_read_as_given() -> None:
    rules = CallingRules.from_settings(dataclasses.replace(DialerSettings(), calling_hours_start="10:00",
                                                           dayparts=("10:00", "15:00")), BusinessCalendar())
    assert not rules.in_window(at("2026-11-25", "09:30"))
    assert rules.daypart(at("2026-11-25", "16:00")) == 1
