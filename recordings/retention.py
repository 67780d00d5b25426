"""How long a call recording is kept (docs/domain.md §7): counted from the end of the contract."""

from __future__ import annotations

from datetime import date

from kit.settings import RecordingSettings


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February
        return day.replace(year=day.year + years, day=28)


def contract_end(issue_date: date, term_years: int | None) -> date | None:
    """The contract's natural end; None for whole-life cover (the end is not known until it terminates)."""
    return None if term_years is None else _add_years(issue_date, term_years)


def retain_until(
    issue_date: date,
    term_years: int | None,
    settings: RecordingSettings,
    dispute_ended_on: date | None = None,
) -> date | None:
    """The first day the recording may be deleted; None while the contract end is unknown (keep it).

    Term ≤ short_term_years → end + retention_years_short_term; longer → end + retention_years_long_term;
    a complaint or lawsuit that ended keeps it at least retention_years_after_dispute after that end.
    """
    end = contract_end(issue_date, term_years)
    if end is None:
        return None
    assert term_years is not None
    years = (settings.retention_years_short_term if term_years <= settings.short_term_years
             else settings.retention_years_long_term)
    until = _add_years(end, years)
    if dispute_ended_on is not None:
        until = max(until, _add_years(dispute_ended_on, settings.retention_years_after_dispute))
    return until
