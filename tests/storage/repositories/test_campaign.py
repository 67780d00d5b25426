"""The dashboard's last-30-days counts (storage.repositories.campaign.calls_by_day): one aggregate per day (over
the calls, or over the calls in scope read once), checked against the single GROUP BY by Beijing date it
replaced, on calls at the edges: either side of midnight Beijing time (16:00 UTC), the window's first and last
instants, several calls of a task in a day, an answering machine, a call on the line now, a reclassified
result, and other branches' calls a branch-scoped viewer must not count."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cases.kpi import SUCCESS_CLASSES
from flows.vocab import ResultClass
from kit.actor import Actor
from kit.clock import BUSINESS_TZ, FrozenClock, business_start_of
from kit.settings import Settings
from kit.vocab import CallOutcome
from storage.models import Call, Policy
from storage.repositories import campaign as repo
from storage.scope import scoped
from tests.console.campaign_world import TaskPlan, call, shape
from tests.factories import policy_row
from tests.intake.test_service import make

TODAY = date(2026, 11, 25)
DAYS = [TODAY - timedelta(days=n) for n in range(29, -1, -1)]  # 2026-10-27 … 2026-11-25, as the dashboard
SUPERVISOR = Actor.of("张总", ["supervisor"])
BEIJING_HANDLER = Actor.of("王芳", ["branch"], ["110100"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


def before(session: Session, actor: Actor, branch_id: int | None) -> dict[date, tuple[int, int, int]]:
    """The counts as computed before (the reference): one GROUP BY over the window by the calls' Beijing date."""
    day = repo.business_date(session, Call.created_at)
    success = Call.result_class.in_(list(SUCCESS_CLASSES))
    stmt = select(day, func.count(func.distinct(Call.task_id)),
                  func.count(func.distinct(case((repo.reached(), Call.task_id)))),
                  func.count(func.distinct(case((success, Call.task_id))))).select_from(Call)
    if branch_id is not None or actor.branch_codes is not None:
        stmt = stmt.join(Policy, Policy.id == Call.policy_id)
        if branch_id is not None:
            stmt = stmt.where(Policy.branch_id == branch_id)
        stmt = scoped(stmt, actor, Policy.branch_id)
    stmt = stmt.where(Call.created_at >= business_start_of(DAYS[0]),
                      Call.created_at < business_start_of(TODAY + timedelta(days=1))).group_by(day)
    found = {(d if isinstance(d, date) else date.fromisoformat(str(d)[:10])): (a, b, c)
             for d, a, b, c in session.execute(stmt)}
    return {d: found.get(d, (0, 0, 0)) for d in DAYS}


def per_day(session: Session, actor: Actor, branch_id: int | None,
         classes: Collection[ResultClass] = SUCCESS_CLASSES) -> dict[date, tuple[int, int, int]]:
    days = [(d, business_start_of(d), business_start_of(d + timedelta(days=1))) for d in DAYS]
    return repo.calls_by_day(session, actor, branch_id, days, success_classes=classes)


@pytest.fixture
def calls(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> dict[str, int]:
    """Policies E1–E3 in 110100 and F1–F2 in 120100 with their calls; returns the branch ids of E1 (110100) and F1 (120100)."""
    tj = {"branch_code": "120100", "branch_name": "天津分公司"}
    make(session, tmp_path, settings, clock)([policy_row(policy_no=f"E{n}") for n in (1, 2, 3)]
                                              + [policy_row(policy_no=f"F{n}", **tj) for n in (1, 2)])
    e1, e2, e3, f1, f2 = (shape(session, no, TaskPlan()) for no in ("E1", "E2", "E3", "F1", "F2"))
    # E1: a call a second before midnight (the 24th), then reached at midnight and again in the morning (the 25th)
    call(session, e1, at("2026-11-24T23:59:59"), CallOutcome.NO_ANSWER)
    call(session, e1, at("2026-11-25T00:00:00"), CallOutcome.COMPLETED, answered=True, result=ResultClass.STANDARD)
    call(session, e1, at("2026-11-25T09:00:00"), CallOutcome.HANGUP, answered=True)
    # E2: an answering machine, then the applicant who hung up; the last instant of the window: on the line
    call(session, e2, at("2026-11-20T10:00:00"), CallOutcome.MACHINE, answered=True)
    call(session, e2, at("2026-11-20T15:00:00"), CallOutcome.HANGUP, answered=True)
    call(session, e2, at("2026-11-25T23:59:59"), CallOutcome.IN_PROGRESS, answered=True)
    # E3: a problem result on the 22nd (reclassified below), nobody on the 23rd
    call(session, e3, at("2026-11-22T11:00:00"), CallOutcome.COMPLETED, answered=True, result=ResultClass.PROBLEM)
    call(session, e3, at("2026-11-23T11:00:00"), CallOutcome.BUSY)
    # F1: just before the window, at its first instant, and a success on the 22nd beside E3's
    call(session, f1, at("2026-10-26T23:59:59"), CallOutcome.COMPLETED, answered=True, result=ResultClass.STANDARD)
    call(session, f1, at("2026-10-27T00:00:00"), CallOutcome.NO_ANSWER)
    call(session, f1, at("2026-11-22T14:00:00"), CallOutcome.COMPLETED, answered=True,
         result=ResultClass.SUB_STANDARD)
    # F2: the next day (after the window), and a verification result today
    call(session, f2, at("2026-11-26T00:00:00"), CallOutcome.NO_ANSWER)
    call(session, f2, at("2026-11-25T10:00:00"), CallOutcome.COMPLETED, answered=True,
         result=ResultClass.VERIFICATION)
    session.flush()
    rows = session.execute(select(Policy.policy_no, Policy.branch_id).where(Policy.policy_no.in_(["E1", "F1"])))
    return {no: branch_id for no, branch_id in rows}


def test_the_days_as_worked_out(session: Session, calls: dict[str, int]) -> None:
    days = per_day(session, SUPERVISOR, None)
    assert list(days) == DAYS
    assert days[date(2026, 10, 27)] == (1, 0, 0)  # F1 at the first instant; its call a second before is not
    assert days[date(2026, 11, 20)] == (1, 1, 0)  # E2 twice: the machine is nobody, the hang-up is someone
    assert days[date(2026, 11, 22)] == (2, 2, 2)  # E3 problem, F1 sub-standard: both successful callbacks
    assert days[date(2026, 11, 23)] == (1, 0, 0)
    assert days[date(2026, 11, 24)] == (1, 0, 0)  # E1 at 23:59:59
    assert days[TODAY] == (3, 3, 1)  # E1 (twice, once successful), E2 on the line, F2 verification: no success
    assert days[date(2026, 11, 21)] == (0, 0, 0)
    assert sum(d[0] for d in days.values()) == 9


@pytest.mark.parametrize(("actor", "branch"), [
    (SUPERVISOR, None), (SUPERVISOR, "E1"), (SUPERVISOR, "F1"),
    (BEIJING_HANDLER, None), (BEIJING_HANDLER, "E1"), (BEIJING_HANDLER, "F1")])
def test_the_same_as_one_group_by_before_and_after_a_reclassification(
        session: Session, calls: dict[str, int], actor: Actor, branch: str | None) -> None:
    branch_id = calls[branch] if branch else None
    assert per_day(session, actor, branch_id) == before(session, actor, branch_id)
    problem = session.scalars(select(Call).where(Call.result_class == ResultClass.PROBLEM)).one()
    problem.result_class = ResultClass.VERIFICATION  # what calls.results.apply_result writes on a reclassification
    session.flush()
    after = per_day(session, actor, branch_id)
    assert after == before(session, actor, branch_id)
    if actor is SUPERVISOR and branch is None:
        assert after[date(2026, 11, 22)] == (2, 2, 1)  # E3 no longer a successful callback


def test_a_branch_viewer_counts_only_their_branch(session: Session, calls: dict[str, int]) -> None:
    mine = per_day(session, BEIJING_HANDLER, None)
    assert mine[date(2026, 11, 22)] == (1, 1, 1)  # E3 only: F1 is Tianjin's
    assert mine[date(2026, 10, 27)] == (0, 0, 0)
    assert mine == per_day(session, SUPERVISOR, calls["E1"])
    assert set(per_day(session, BEIJING_HANDLER, calls["F1"]).values()) == {(0, 0, 0)}  # another branch: nothing
