from datetime import date

import pytest

from kit.calendar import BusinessCalendar, UnknownCalendarYear, YearTable


class TestPackageYears:
    def test_national_day_is_off_and_make_up_saturday_is_a_workday(self) -> None:
        cal = BusinessCalendar()
        assert cal.is_day_off(date(2026, 10, 1))
        assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up workday (调休)
        assert cal.is_day_off(date(2026, 11, 22))  # ordinary Sunday

    def test_next_workday_skips_the_whole_golden_week(self) -> None:
        assert BusinessCalendar().next_workday_on_or_after(date(2026, 10, 3)) == date(2026, 10, 8)

    def test_next_workday_of_a_workday_is_itself(self) -> None:
        assert BusinessCalendar().next_workday_on_or_after(date(2026, 11, 25)) == date(2026, 11, 25)

    def test_add_working_days_skips_weekends(self) -> None:
        # Friday 2026-11-20 + 1 working day = Monday 2026-11-23
        assert BusinessCalendar().add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
        assert BusinessCalendar().add_working_days(date(2026, 11, 20), 0) == date(2026, 11, 20)


class TestUnknownYears:
    def test_a_year_the_package_does_not_know_is_an_error_naming_the_config_key(self) -> None:
        with pytest.raises(UnknownCalendarYear, match=r"\[calendar\.years\.2027\]"):
            BusinessCalendar().is_workday(date(2027, 1, 4))

    def test_the_editable_table_supplies_a_year(self) -> None:
        table = YearTable(holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset({date(2027, 1, 9)}))
        cal = BusinessCalendar({2027: table})
        assert cal.knows_year(2027)
        assert cal.is_day_off(date(2027, 1, 1))  # Friday holiday from the table
        assert cal.is_workday(date(2027, 1, 9))  # Saturday make-up workday from the table
        assert cal.is_day_off(date(2027, 1, 10))  # plain Sunday
        assert cal.is_workday(date(2027, 1, 11))  # plain Monday
        assert not cal.knows_year(2028)

    def test_the_table_overrides_a_known_year(self) -> None:
        cal = BusinessCalendar({2026: YearTable(holidays=frozenset({date(2026, 11, 25)}))})
        assert cal.is_day_off(date(2026, 11, 25))
        assert cal.is_day_off(date(2026, 10, 1))  # the package still answers for other days
