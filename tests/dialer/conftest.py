"""A dialer on a real database with a provider that records what it is asked to place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.loop import Dialer
from dialer.pacing import Pacer
from dialer.telephony import CallRequest, PlacementError
from intake.reader import open_table
from intake.service import PolicyIntake
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import DialerSettings, Settings
from storage.db import make_session_factory, units_of_work
from storage.models import CallbackTask, Case, Policy
from tests.factories import write_csv


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


@dataclass
class FakeProvider:
    """Places nothing: keeps each request, answers with a CallSid or the next scripted error."""

    placed: list[CallRequest] = field(default_factory=list)
    errors: list[PlacementError | None] = field(default_factory=list)

    def place(self, request: CallRequest) -> str:
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        self.placed.append(request)
        return f"CA{len(self.placed):032d}"


class Bench:
    def __init__(self, engine: Engine, tmp_path: Path, settings: Settings) -> None:
        self.engine, self.tmp_path, self.settings = engine, tmp_path, settings
        self.clock = FrozenClock(local("2026-11-25T10:00:00"))
        self.calendar = BusinessCalendar(settings.calendar)
        self.sessions = make_session_factory(engine)
        self.provider = FakeProvider()
        self.sleeps: list[float] = []
        self.files = 0

    def dialer(self, name: str = "d1", **dialer_overrides: object) -> Dialer:
        settings = self.settings
        if dialer_overrides:
            settings = dataclasses.replace(settings, dialer=dataclasses.replace(settings.dialer, **dialer_overrides))
        return Dialer(settings=settings, clock=self.clock, calendar=self.calendar, sessions=self.sessions,
                      provider=self.provider, dialer_id=name, pacer=Pacer(0))

    def load(self, rows: list[dict[str, str]]) -> None:
        self.files += 1
        path = write_csv(self.tmp_path / f"policies{self.files}.csv", rows)
        PolicyIntake(units_of_work(self.sessions), settings=self.settings, calendar=self.calendar,
                     clock=self.clock).run(open_table(path))

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def task(self, policy_no: str) -> CallbackTask:
        with self.session() as s:
            return s.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()

    def update(self, policy_no: str, **values: object) -> None:
        with self.sessions() as s, s.begin():
            task = s.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()
            for name, value in values.items():
                setattr(task, name, value)

    def cases(self) -> list[Case]:
        with self.session() as s:
            return list(s.scalars(select(Case).order_by(Case.id)))

    def dialled(self) -> list[int]:
        return [r.task_id for r in self.provider.placed]

    def task_ids(self, *policy_nos: str) -> list[int]:
        return [self.task(p).id for p in policy_nos]


@pytest.fixture
def bench(engine: Engine, tmp_path: Path) -> Bench:
    settings = dataclasses.replace(Settings(), dialer=DialerSettings(caller_id="+861085550000"))
    return Bench(engine, tmp_path, settings)
