"""Wiring for a branch's case handling (cases.actions.CallingRules): intake's numbers and phone-quality holds,
the dialer's appointments. Delegation only: the rules live in intake/ and dialer/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dialer.appointments import book
from dialer.hours import CallingRules
from intake.phone_quality import reevaluate_phone_holds
from intake.phones import normalize_phone
from kit.calendar import BusinessCalendar
from kit.settings import Settings
from storage.models import CallbackTask


@dataclass(frozen=True)
class CaseRules:
    settings: Settings
    calendar: BusinessCalendar

    def normalize_phone(self, raw: str) -> str | None:
        return normalize_phone(raw, self.settings.phone.region).e164

    def phone_changed(self, session: Session, now: datetime) -> None:
        reevaluate_phone_holds(session, now=now, settings=self.settings, calendar=self.calendar)

    def book(self, task: CallbackTask, at: datetime, now: datetime) -> None:
        book(task, at, now=now, rules=CallingRules.from_settings(self.settings.dialer, self.calendar))
