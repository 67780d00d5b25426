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


def sla_status(
    *, now: datetime, created_at: datetime, due: datetime, closed_at: datetime | None, settings: CaseSettings
) -> SlaStatus:
    """Rule 32. A closed case keeps the status it had when it was closed."""
    at = closed_at or now
    if at > due:
        return SlaStatus.OVERDUE
    total = (due - created_at).total_seconds()
    elapsed = (at - created_at).total_seconds()
    if due - at <= timedelta(days=settings.warning_days_before_due):
        return SlaStatus.WARNING
    if total > 0 and elapsed / total >= settings.warning_elapsed_fraction:
        return SlaStatus.WARNING
    return SlaStatus.NORMAL
