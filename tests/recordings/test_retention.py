"""Retention from contract end (docs/domain.md §7)."""

from __future__ import annotations

from datetime import date

from kit.settings import RecordingSettings
from recordings.retention import contract_end, retain_until

SETTINGS = RecordingSettings()


def test_a_term_of_one_year_or_less_is_kept_five_years_after_it_ends() -> None:
    assert retain_until(date(2026, 3, 1), 1, SETTINGS) == date(2032, 3, 1)


def test_a_longer_term_is_kept_ten_years_after_it_ends() -> None:
    assert retain_until(date(2026, 11, 12), 20, SETTINGS) == date(2056, 11, 12)


def test_whole_life_has_no_known_end_and_is_kept() -> None:
    assert contract_end(date(2026, 1, 1), None) is None
    assert retain_until(date(2026, 1, 1), None, SETTINGS) is None


def test_a_dispute_keeps_it_two_years_after_the_dispute_ends_when_that_is_later() -> None:
    assert retain_until(date(2026, 3, 1), 1, SETTINGS, dispute_ended_on=date(2031, 6, 30)) == date(2033, 6, 30)
    assert retain_until(date(2026, 3, 1), 1, SETTINGS, dispute_ended_on=date(2027, 1, 1)) == date(2032, 3, 1)


def test_29_february_falls_back_to_28_february() -> None:
    assert retain_until(date(2028, 2, 29), 1, SETTINGS) == date(2034, 2, 28)
