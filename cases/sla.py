"""Pure SLA rules: when a case is due and whether it is normal, warning or overdue (docs/domain.md §9.6–9.7)."""

from __future__ import annotations

from datetime import datetime, timedelta

from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ
from kit.settings import CaseSettings, SlaRule
from kit.vocab import DayType, SlaStatus


def due_at(created_at: datetime, rule: SlaRule, calendar: BusinessCalendar) -> datetime:
    """Natural days: created + N × 24 h. Working days: N business days later, same local time of day."""
    if rule.day_type is DayType.NATURAL:
        return created_at + timedelta(days=rule.days)
    local = created_at.astimezone(BUSINESS_TZ)
    day = calendar.add_working_days(local.date(), rule.days)
    return datetime.combine(day, local.timetz()).astimezone(created_at.tzinfo)


def warn_at(created_at: datetime, due: datetime, settings: CaseSettings) -> datetime:
    """When a case turns `warning` (rule 32): `warning_days_before_due` before its due time, or once
    `warning_elapsed_fraction` of its time has passed, whichever comes first. Fixed when the case opens, like
    its due time, and stored, so every list, filter, order and view reads one status (`status_at`)."""
    by_days = due - timedelta(days=settings.warning_days_before_due)
    by_fraction = created_at + (due - created_at) * settings.warning_elapsed_fraction
    return max(created_at, min(by_days, by_fraction))


def status_at(at: datetime, warn: datetime, due: datetime) -> SlaStatus:
    """The SLA status at `at` (the same rule as the SQL in storage.repositories.cases.sla_expression)."""
    if at > due:
        return SlaStatus.OVERDUE
    if at >= warn:
        return SlaStatus.WARNING
    return SlaStatus.NORMAL


def case_status(*, now: datetime, warn: datetime, due: datetime, closed_at: datetime | None) -> SlaStatus:
    """A case's status now; a closed case keeps the status it had when it was closed."""
    return status_at(closed_at or now, warn, due)


def sla_status(
    *, now: datetime, created_at: datetime, due: datetime, closed_at: datetime | None, settings: CaseSettings
) -> SlaStatus:
    """Rule 32, from the case's creation and due times."""
    return case_status(now=now, warn=warn_at(created_at, due, settings), due=due, closed_at=closed_at)
