"""A small campaign whose dashboard numbers are known (tests/console/test_dashboard.py, the browser test), on the
console fixture's world (BJ1 in 110100, TJ1 in 120100, a case each, at NOW = Wednesday 2026-11-25 10:00 Beijing).

110100: D1 completed today (standard), D2 completed today after its deadline (problem), D3 due today with a call
today nobody answered, D4 on a call now, D5 past its deadline (a machine answered three days ago; an overdue
case), D6 held with its deadline in two working days; BJ1 queued. 120100: T2 completed yesterday, T3 being dialled
now (a call placed today, deadline tomorrow); TJ1 queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.service import NewCase, open_cases
from flows.vocab import CaseType, ResultClass
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import CallOutcome, TaskStatus
from storage.models import CallbackTask, Policy
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.factories import policy_row
from tests.intake.test_service import make

_sids = count(1)


def at(day: str, hm: str) -> datetime:
    """A Beijing time: at("11-25", "09:30")."""
    return datetime.fromisoformat(f"2026-{day}T{hm}:00").replace(tzinfo=BUSINESS_TZ)


@dataclass
class TaskPlan:
    status: TaskStatus = TaskStatus.QUEUED
    deadline: date = date(2026, 12, 1)
    result: ResultClass | None = None
    completed_at: datetime | None = None
    lease: bool = False  # dialling or on a call under a live lease
    attempts: int = 0


def task_of(session: Session, policy_no: str) -> CallbackTask:
    policy_id = session.scalars(select(Policy.id).where(Policy.policy_no == policy_no)).one()
    return session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy_id)).one()


def shape(session: Session, policy_no: str, plan: TaskPlan) -> CallbackTask:
    task = task_of(session, policy_no)
    task.status, task.deadline, task.opens_on = plan.status, plan.deadline, date(2026, 11, 17)
    task.result_class, task.completed_at, task.attempts = plan.result, plan.completed_at, plan.attempts
    if plan.lease:
        task.claimed_by, task.claimed_at, task.lease_expires_at = "dialer-1", NOW, NOW + timedelta(minutes=5)
    return task


def call(session: Session, task: CallbackTask, placed: datetime, outcome: CallOutcome, *,
         answered: bool = False, result: ResultClass | None = None) -> None:
    """A call placed at `placed`: answered a minute later when `answered`, ended with `result`."""
    row = call_repo.create(session, call_sid=f"CAW{next(_sids):030d}", task_id=task.id, policy_id=task.policy_id,
                           now=placed)
    row.outcome = outcome
    row.answered_at = placed + timedelta(minutes=1) if answered else None
    if result is not None:
        row.result_class, row.finished_at = result, placed + timedelta(minutes=4)
    if outcome is not CallOutcome.IN_PROGRESS:
        row.ended_at = placed + timedelta(minutes=4 if answered else 1)


def build_campaign(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                   calendar: BusinessCalendar) -> None:
    tj = {"branch_code": "120100", "branch_name": "天津分公司"}
    make(session, tmp_path, settings, clock)(
        [policy_row(policy_no=f"D{n}", applicant_name=f"客户{n}") for n in range(1, 7)]
        + [policy_row(policy_no=f"T{n}", applicant_name=f"津客{n}", **tj) for n in (2, 3)])
    shape(session, "BJ1", TaskPlan())
    shape(session, "TJ1", TaskPlan())
    d1 = shape(session, "D1", TaskPlan(TaskStatus.COMPLETED, date(2026, 11, 30), ResultClass.STANDARD,
                                       at("11-25", "09:30"), attempts=1))
    call(session, d1, at("11-25", "09:00"), CallOutcome.COMPLETED, answered=True, result=ResultClass.STANDARD)
    d2 = shape(session, "D2", TaskPlan(TaskStatus.COMPLETED, date(2026, 11, 24), ResultClass.PROBLEM,
                                       at("11-25", "09:40"), attempts=2))
    call(session, d2, at("11-25", "09:10"), CallOutcome.COMPLETED, answered=True, result=ResultClass.PROBLEM)
    d3 = shape(session, "D3", TaskPlan(deadline=date(2026, 11, 25), attempts=1))
    call(session, d3, at("11-25", "08:30"), CallOutcome.NO_ANSWER)
    d4 = shape(session, "D4", TaskPlan(TaskStatus.IN_PROGRESS, date(2026, 11, 26), lease=True, attempts=1))
    call(session, d4, at("11-25", "09:55"), CallOutcome.IN_PROGRESS, answered=True)
    d5 = shape(session, "D5", TaskPlan(deadline=date(2026, 11, 20), attempts=3))
    call(session, d5, at("11-22", "10:00"), CallOutcome.MACHINE, answered=True)
    shape(session, "D6", TaskPlan(TaskStatus.HELD, date(2026, 11, 27)))
    t2 = shape(session, "T2", TaskPlan(TaskStatus.COMPLETED, date(2026, 11, 30), ResultClass.STANDARD,
                                       at("11-24", "15:00"), attempts=1))
    call(session, t2, at("11-24", "14:50"), CallOutcome.COMPLETED, answered=True, result=ResultClass.STANDARD)
    t3 = shape(session, "T3", TaskPlan(TaskStatus.DIALING, date(2026, 11, 26), lease=True, attempts=0))
    call(session, t3, at("11-25", "09:59"), CallOutcome.IN_PROGRESS)
    # an overdue work order for D5 (raised 20 days ago)
    open_cases(session, [NewCase(d5.policy_id, d5.id, _branch_of(session, "D5"), CaseType.VERIFICATION_CASE,
                                 "unreachable", "D5 多次未接通")],
               now=NOW - timedelta(days=20), settings=settings.cases, calendar=calendar)
    session.commit()


def _branch_of(session: Session, policy_no: str) -> int:
    return session.scalars(select(Policy.branch_id).where(Policy.policy_no == policy_no)).one()


BRANCHES = (("110100", "北京分公司"), ("120100", "天津分公司"), ("310100", "上海分公司"), ("440100", "广州分公司"),
            ("510100", "成都分公司"))


def build_busy_month(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                     calendar: BusinessCalendar, *, per_branch: int = 40, seed: int = 7) -> None:
    """A month's campaign to look at (the screenshot): policies in five branches called on one to three of the
    last 30 days (most reached, some not), their deadlines up to a week after the last call, results in every
    class, and work orders raised over the last three weeks (so the SLA mix is normal, warning, overdue)."""
    import random

    rng = random.Random(seed)
    rows = [policy_row(policy_no=f"M{code}{n:03d}", applicant_name=f"{name[:2]}客户{n}", branch_code=code,
                       branch_name=name, agent_code=f"A{code[:3]}{n % 4}")
            for code, name in BRANCHES for n in range(per_branch)]
    make(session, tmp_path, settings, clock)(rows)
    today = NOW.date()
    kinds = [CaseType.FIRST_EXPLANATION_CASE, CaseType.VERIFICATION_CASE, CaseType.PROXY_SIGNATURE_CASE,
             CaseType.MIS_SELLING_CASE, CaseType.DIALECT_CASE]
    for row in rows:
        calls_made = rng.choices((0, 1, 2, 3), (8, 50, 27, 15))[0]
        days = sorted({today - timedelta(days=rng.randint(0, 29)) for _ in range(calls_made)})
        deadline = (days[-1] if days else today) + timedelta(days=rng.randint(0, 8))
        outcome = rng.choices(list(ResultClass), (70, 8, 12, 10))[0]
        done = bool(days) and rng.random() < 0.8
        completed = at(days[-1].strftime("%m-%d"), "10:30") if done and days else None
        if completed is not None and completed > NOW:
            completed = NOW - timedelta(minutes=rng.randint(5, 60))
        plan = TaskPlan(TaskStatus.COMPLETED if completed else TaskStatus.QUEUED, deadline,
                        outcome if completed else None, completed, attempts=len(days))
        task = shape(session, row["policy_no"], plan)
        for n, day in enumerate(days):
            placed = min(at(day.strftime("%m-%d"), f"{9 + rng.randint(0, 8):02d}:{rng.randint(0, 59):02d}"),
                         NOW - timedelta(minutes=70 - n))
            last = n == len(days) - 1
            if last and completed is not None:
                call(session, task, min(placed, completed - timedelta(minutes=10)), CallOutcome.COMPLETED,
                     answered=True, result=outcome)
            else:
                call(session, task, placed, rng.choice([CallOutcome.NO_ANSWER, CallOutcome.BUSY,
                                                        CallOutcome.NO_ANSWER, CallOutcome.HANGUP]),
                     answered=rng.random() < 0.2)
        if completed is not None and outcome in (ResultClass.PROBLEM, ResultClass.VERIFICATION):
            raised = NOW - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
            open_cases(session, [NewCase(task.policy_id, task.id, _branch_of(session, row["policy_no"]),
                                         rng.choice(kinds), "explanation_needed", f"{row['policy_no']} 待处理")],
                       now=raised, settings=settings.cases, calendar=calendar)
    session.commit()
