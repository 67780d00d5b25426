"""Where the campaign stands (the supervisor's dashboard, docs/console.md): today's campaign, the tasks at risk,
the last days' reach and success rates, and the open work orders per branch by SLA status.

Definitions (days are Beijing days; "today" is the clock's):
- due today = unfinished tasks (queued, held, dialling, on a call) open on or before today + tasks completed today
- dialed / reached = distinct tasks with a call placed today / with a call of today that a person answered
  (answered, not by a machine); in progress now = tasks being dialled or on a call under a live lease
- completed = tasks completed today, by result class; late = unfinished tasks past their deadline (the end of the
  cooling-off period: calling goes on, but late, docs/domain.md §3.2), and tasks completed today after it
- at risk = unfinished tasks whose deadline is today or within `AT_RISK_WORKING_DAYS` working days (the
  business calendar: weekends and holidays do not count) and that no call has reached yet
- daily rates, over the last `DAYS` days: reach rate = reached / dialed, success rate = tasks whose call of the
  day ended in a success class (cases.kpi.SUCCESS_CLASSES: the applicant reached, the questionnaire done) / dialed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from cases.kpi import SUCCESS_CLASSES, rate
from flows.vocab import ResultClass
from kit.actor import Actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, business_start_of
from kit.vocab import SlaStatus
from storage.repositories import campaign as repo

AT_RISK_WORKING_DAYS = 2
AT_RISK_SHOWN = 50  # rows listed (the count covers them all)
DAYS = 30


class UnknownBranch(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no branch {code!r}")
        self.code = code


@dataclass(frozen=True)
class Today:
    day: date
    due: int
    held: int
    dialed: int
    reached: int
    dialing: int
    in_call: int
    completed: int
    results: dict[str, int]  # result class → tasks completed today (every class, 0 included)
    late_open: int
    late_completed: int

    @property
    def in_progress(self) -> int:
        return self.dialing + self.in_call

    @property
    def successful(self) -> int:
        return sum(self.results[c.value] for c in SUCCESS_CLASSES)


@dataclass(frozen=True)
class AtRiskTask:
    policy_no: str
    applicant: str
    branch_code: str
    branch_name: str
    deadline: date
    working_days_left: int  # working days after today up to the deadline (0: it ends today)
    attempts: int
    status: str
    next_attempt_at: datetime | None
    appointment_at: datetime | None


@dataclass(frozen=True)
class DayRates:
    day: date
    dialed: int
    reached: int
    successful: int

    @property
    def reach_rate(self) -> float | None:
        return rate(self.reached, self.dialed)

    @property
    def success_rate(self) -> float | None:
        return rate(self.successful, self.dialed)


@dataclass(frozen=True)
class BranchCases:
    code: str
    name: str
    counts: dict[str, int]  # SLA status → open work orders (every status, 0 included)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    branch: str | None
    today: Today
    at_risk_until: date
    at_risk_total: int
    at_risk: list[AtRiskTask]
    days: list[DayRates]
    cases: list[BranchCases]
    branches: dict[str, str] = field(default_factory=dict)  # every branch: code → name (the filter's choices)


def dashboard(session: Session, actor: Actor, now: datetime, calendar: BusinessCalendar,
              branch: str | None = None) -> Dashboard:
    """The dashboard through the actor's scope, for every branch or one (UnknownBranch for a code that is none)."""
    ids = repo.branch_codes(session)
    branch_id = None
    if branch:
        branch_id = next((bid for bid, (code, _) in ids.items() if code == branch), None)
        if branch_id is None:
            raise UnknownBranch(branch)
    today = now.astimezone(BUSINESS_TZ).date()
    until = calendar.add_working_days(today, AT_RISK_WORKING_DAYS)
    total, rows = repo.at_risk(session, actor, branch_id, first=today, last=until, limit=AT_RISK_SHOWN)
    days = _days(session, actor, branch_id, today)  # the last of them is today
    return Dashboard(
        now=now, branch=branch or None, today=_today(session, actor, branch_id, today, now, days[-1]),
        at_risk_until=until, at_risk_total=total,
        at_risk=[AtRiskTask(**row, working_days_left=_working_days(
            calendar, today, row["deadline"])) for row in rows],
        days=days,
        cases=_cases(session, actor, branch_id, now, ids),
        branches={code: name for code, name in sorted(ids.values())})


def _today(session: Session, actor: Actor, branch_id: int | None, today: date, now: datetime,
           calls: DayRates) -> Today:
    start, end = business_start_of(today), business_start_of(today + timedelta(days=1))
    unfinished = repo.unfinished_tasks(session, actor, branch_id, today=today, now=now)
    done = repo.completed_between(session, actor, branch_id, start, end)
    completed = sum(n for n, _ in done.values())
    return Today(day=today, due=unfinished["open"] + completed, held=unfinished["held"], dialed=calls.dialed,
                 reached=calls.reached, dialing=unfinished["dialing"], in_call=unfinished["in_call"], completed=completed,
                 results={c.value: done.get(c.value, (0, 0))[0] for c in ResultClass},
                 late_open=unfinished["late"], late_completed=sum(m for _, m in done.values()))


def _days(session: Session, actor: Actor, branch_id: int | None, today: date) -> list[DayRates]:
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    counts = repo.calls_by_day(session, actor, branch_id,
                               [(d, business_start_of(d), business_start_of(d + timedelta(days=1))) for d in days],
                               success_classes=SUCCESS_CLASSES)
    return [DayRates(d, *counts[d]) for d in days]


def _cases(session: Session, actor: Actor, branch_id: int | None, now: datetime,
           ids: dict[int, tuple[str, str]]) -> list[BranchCases]:
    names = dict(ids.values())
    counts = repo.open_cases_by_branch(session, actor, branch_id, now)
    return [BranchCases(code, names.get(code, code), {s.value: by_sla.get(s.value, 0) for s in SlaStatus})
            for code, by_sla in sorted(counts.items())]


def _working_days(calendar: BusinessCalendar, today: date, deadline: date) -> int:
    """Working days after today up to and including the deadline."""
    return sum(calendar.is_workday(today + timedelta(days=n)) for n in range(1, (deadline - today).days + 1))
