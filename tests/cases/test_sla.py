from datetime import datetime, timedelta

from cases.sla import due_at, sla_status
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ
from kit.settings import CaseSettings, SlaRule
from kit.vocab import DayType, SlaStatus

CREATED = datetime(2026, 11, 20, 15, 0, tzinfo=BUSINESS_TZ)  # a Friday


def test_natural_days() -> None:
    assert due_at(CREATED, SlaRule(7), BusinessCalendar()) == CREATED + timedelta(days=7)


def test_working_days_skip_weekends_and_keep_the_time_of_day() -> None:
    due = due_at(CREATED, SlaRule(15, DayType.WORKING), BusinessCalendar())
    assert due.astimezone(BUSINESS_TZ).isoformat() == "2026-12-11T15:00:00+08:00"


def test_status_moves_from_normal_to_warning_to_overdue() -> None:
    settings = CaseSettings()
    due = CREATED + timedelta(days=7)

    def status(now: datetime) -> SlaStatus:
        return sla_status(now=now, created_at=CREATED, due=due, closed_at=None, settings=settings)

    assert status(CREATED + timedelta(days=1)) is SlaStatus.NORMAL
    assert status(CREATED + timedelta(days=4)) is SlaStatus.NORMAL  # 57% elapsed, 3 days left
    assert status(CREATED + timedelta(days=4, hours=22)) is SlaStatus.WARNING  # 70.2% elapsed, 2 d 2 h left
    assert status(due - timedelta(days=2)) is SlaStatus.WARNING  # 2 days left
    assert status(due + timedelta(seconds=1)) is SlaStatus.OVERDUE


def test_a_closed_case_keeps_the_status_it_closed_with() -> None:
    due = CREATED + timedelta(days=7)
    closed = CREATED + timedelta(days=1)
    assert sla_status(now=due + timedelta(days=30), created_at=CREATED, due=due, closed_at=closed,
                      settings=CaseSettings()) is SlaStatus.NORMAL
