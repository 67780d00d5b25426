"""The campaign's counts for the supervisor's dashboard, aggregated in SQL (one grouped statement per population,
each read through an index: open tasks by status, today's completions and the calls by their time, open cases
from the open-case index).

How to count, not what counts: which results are a success is the KPI definition of cases/kpi.py, the day's
bounds and the at-risk window are cases/campaign.py's, passed in. Every statement goes through the actor's scope
(storage.scope) and, when given, one branch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Integer, Select, and_, case, exists, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flows.vocab import ResultClass
from kit.actor import Actor
from kit.vocab import OPEN_CASE_STATUSES, CallOutcome, TaskStatus
from storage.models import Branch, Call, CallbackTask, Case, Policy
from storage.repositories.cases import sla_expression
from storage.scope import scoped

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")
# a task still to be called back: waiting, held, or being dialled / on a call now
UNFINISHED = (TaskStatus.QUEUED, TaskStatus.HELD, TaskStatus.DIALING, TaskStatus.IN_PROGRESS)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


def reached(call: Any = Call) -> ColumnElement[bool]:
    """A call a person answered (an answering machine is not the applicant); `call`: the model or the columns of
    a selection of calls."""
    return and_(call.answered_at.is_not(None), call.outcome != CallOutcome.MACHINE)


def _policies(stmt: S, actor: Actor, branch_id: int | None, policy_id: Any) -> S:
    """`stmt` (over tasks or calls) kept to the actor's branches and the chosen one, through their policy (not
    joined when neither limits it: a supervisor's whole campaign reads the tasks or calls alone)."""
    if not _limited(actor, branch_id):
        return stmt
    stmt = stmt.join(Policy, Policy.id == policy_id)  # type: ignore[assignment]
    if branch_id is not None:
        stmt = stmt.where(Policy.branch_id == branch_id)  # type: ignore[assignment]
    return scoped(stmt, actor, Policy.branch_id)


def _limited(actor: Actor, branch_id: int | None) -> bool:
    """Whether one branch or the actor's scope limits what is counted (else it is the whole campaign)."""
    return branch_id is not None or actor.branch_codes is not None


def business_date(session: Session, column: Any) -> ColumnElement[Any]:
    """An instant's date in Asia/Shanghai (SQLite keeps naive UTC; China has no daylight saving)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


def unfinished_tasks(session: Session, actor: Actor, branch_id: int | None, *, today: date,
                     now: datetime) -> dict[str, int]:
    """Tasks not finished yet, open on `today`: how many, held, past their deadline (late), and being dialled or
    on a call now under a live lease."""
    live = CallbackTask.lease_expires_at >= now
    stmt = _policies(select(
        func.count(),
        _count(CallbackTask.status == TaskStatus.HELD),
        _count(CallbackTask.deadline < today),
        _count(and_(CallbackTask.status == TaskStatus.DIALING, live)),
        _count(and_(CallbackTask.status == TaskStatus.IN_PROGRESS, live)),
    ).select_from(CallbackTask), actor, branch_id, CallbackTask.policy_id).where(
        CallbackTask.status.in_(UNFINISHED), CallbackTask.opens_on <= today)
    row = session.execute(stmt).one()
    return dict(zip(("open", "held", "late", "dialing", "in_call"), (int(v or 0) for v in row), strict=True))


def completed_between(session: Session, actor: Actor, branch_id: int | None, start: datetime,
                      end: datetime) -> dict[str, tuple[int, int]]:
    """Tasks completed in [start, end) by result class: (how many, how many after their deadline)."""
    late = business_date(session, CallbackTask.completed_at) > CallbackTask.deadline
    stmt = _policies(select(CallbackTask.result_class, func.count(), _count(late)).select_from(CallbackTask),
                     actor, branch_id, CallbackTask.policy_id).where(
        CallbackTask.completed_at >= start, CallbackTask.completed_at < end,
        CallbackTask.status == TaskStatus.COMPLETED).group_by(CallbackTask.result_class)
    return {str(k) if k is not None else "": (int(n), int(m)) for k, n, m in session.execute(stmt)}


def calls_by_day(session: Session, actor: Actor, branch_id: int | None, days: Sequence[tuple[date, datetime, datetime]],
                 *, success_classes: Collection[ResultClass]) -> dict[date, tuple[int, int, int]]:
    """Per day, given as (day, start, end) in order: distinct tasks with a call placed in [start, end), reached (a
    person answered), and called back successfully (a call of the day ended with a success class).

    One aggregate per day, joined with UNION ALL: each day's calls are a range of ix_calls_created_at (which holds
    every column counted) and each day's distinct counts sort that day's tasks alone. (One GROUP BY over the
    whole window sorted every call of the 30 days by their computed Beijing date, on disk at PostgreSQL's default
    work_mem: 137 ms against 58 ms over 185,000 calls, bench/console.py.) When a branch or the actor's scope
    limits the calls, the calls in scope over the whole window are read once, joined with their policy, and the
    days split those."""
    window = and_(Call.created_at >= days[0][1], Call.created_at < days[-1][2])
    source: Any = Call.__table__
    if _limited(actor, branch_id):
        source = _policies(select(Call.created_at, Call.task_id, Call.answered_at, Call.outcome, Call.result_class)
                           .select_from(Call), actor, branch_id, Call.policy_id).where(window).cte("calls_in_scope")
        source = source.prefix_with("MATERIALIZED", dialect="postgresql")  # read once, not once per day
    c = source.c
    success = c.result_class.in_(list(success_classes))
    stmt = union_all(*(
        select(literal(n), func.count(func.distinct(c.task_id)), func.count(func.distinct(case((reached(c), c.task_id)))),
               func.count(func.distinct(case((success, c.task_id))))).select_from(source)
        .where(c.created_at >= start, c.created_at < end)
        for n, (_, start, end) in enumerate(days)))
    return {days[n][0]: (int(a), int(b), int(s)) for n, a, b, s in session.execute(stmt)}


def at_risk(session: Session, actor: Actor, branch_id: int | None, *, first: date, last: date,
            limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Unfinished tasks whose deadline is in [first, last] and whose applicant no call has reached yet: how many,
    and the first `limit` of them by deadline (then the fewest attempts, the oldest task)."""
    answered = exists().where(Call.task_id == CallbackTask.id, reached())
    where = and_(CallbackTask.status.in_(UNFINISHED), CallbackTask.deadline >= first,
                 CallbackTask.deadline <= last, ~answered)
    total = session.scalar(_policies(select(func.count()).select_from(CallbackTask), actor, branch_id,
                                     CallbackTask.policy_id).where(where)) or 0
    stmt = (select(Policy.policy_no, Policy.applicant_name, Branch.code, Branch.name, CallbackTask.deadline,
                   CallbackTask.attempts, CallbackTask.status, CallbackTask.next_attempt_at, CallbackTask.appointment_at)
            .select_from(CallbackTask).join(Policy, Policy.id == CallbackTask.policy_id)
            .join(Branch, Branch.id == Policy.branch_id).where(where)
            .order_by(CallbackTask.deadline, CallbackTask.attempts, CallbackTask.id).limit(limit))
    if branch_id is not None:
        stmt = stmt.where(Policy.branch_id == branch_id)
    stmt = scoped(stmt, actor, Policy.branch_id, joined=True)
    names = ("policy_no", "applicant", "branch_code", "branch_name", "deadline", "attempts", "status",
             "next_attempt_at", "appointment_at")
    return int(total), [dict(zip(names, row, strict=True)) for row in session.execute(stmt)]


def open_cases_by_branch(session: Session, actor: Actor, branch_id: int | None,
                         now: datetime) -> dict[str, dict[str, int]]:
    """Open work orders per branch code by their SLA status at `now` (read from the open-case index)."""
    status = sla_expression(now)
    stmt = scoped(select(Case.branch_id, status, func.count()).select_from(Case), actor, Case.branch_id) \
        .where(Case.status.in_(OPEN_CASE_STATUSES)).group_by(Case.branch_id, status)
    if branch_id is not None:
        stmt = stmt.where(Case.branch_id == branch_id)
    codes = branch_codes(session)
    out: dict[str, dict[str, int]] = {}
    for bid, sla, count in session.execute(stmt):
        out.setdefault(codes[bid][0], {})[str(sla)] = int(count)
    return out


def branch_codes(session: Session) -> dict[int, tuple[str, str]]:
    """Every branch: id → (code, name)."""
    return {bid: (code, name) for bid, code, name in session.execute(select(Branch.id, Branch.code, Branch.name))}


def branch_id_of(session: Session, code: str) -> int | None:
    return session.scalar(select(Branch.id).where(Branch.code == code))

