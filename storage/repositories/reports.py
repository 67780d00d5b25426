"""Monthly KPI counts, aggregated in SQL (one grouped query per population, whatever the table sizes).

How to count, not what counts: which result classes are a success and which case types are problem cases
are the KPI definitions of cases/kpi.py, passed in."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Integer, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flows.vocab import CaseType, ResultClass
from storage.models import Agent, Branch, CallbackTask, Case, Policy

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def _grouped(stmt: S, by: str, policy_id: Any, branch_id: Any = None,
             task_id: Any = None) -> tuple[S, ColumnElement[str]]:
    """`stmt` joined to what its rows are grouped by, and the group's key: the branch's code (through the rows'
    own `branch_id` when they carry one, else their policy's), the policy's channel or product type, the agent's
    code, the callback channel the task is on (`callback_channel`: the task's own column, or through the rows'
    `task_id`). Only what the key needs is joined (on PostgreSQL the policy's groupings come from
    ix_policies_branch_groupings alone)."""
    if by == "callback_channel":
        if task_id is None:
            return stmt, CallbackTask.channel  # type: ignore[return-value]
        return stmt.outerjoin(CallbackTask, CallbackTask.id == task_id), CallbackTask.channel  # type: ignore[return-value]
    if by == "branch" and branch_id is not None:
        return stmt.join(Branch, Branch.id == branch_id), Branch.code  # type: ignore[return-value]
    stmt = stmt.join(Policy, Policy.id == policy_id)  # type: ignore[assignment]
    if by == "branch":
        return stmt.join(Branch, Branch.id == Policy.branch_id), Branch.code  # type: ignore[return-value]
    if by == "agent":
        return stmt.join(Agent, Agent.id == Policy.agent_id), Agent.code  # type: ignore[return-value]
    return stmt, {"channel": Policy.channel, "product_type": Policy.product_type}[by]  # type: ignore[return-value]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0)).cast(Integer)


def task_counts(session: Session, by: str, first: date, last: date, completed_by: datetime, *,
                success_classes: Collection[ResultClass], problem_class: ResultClass) -> dict[str, dict[str, int]]:
    """Per group, over tasks due (cooling-off end) in [first, last]: due, attempted, successful, successful in
    the cooling-off period, problem. `completed_by`: only completions up to the report's cut-off count."""
    done = and_(CallbackTask.completed_at.is_not(None), CallbackTask.completed_at < completed_by)
    success = and_(done, CallbackTask.result_class.in_(list(success_classes)))
    stmt, key = _grouped(select().select_from(CallbackTask), by, CallbackTask.policy_id)
    stmt = (
        stmt.add_columns(key, func.count(),
                         _count(CallbackTask.attempts > 0),
                         _count(success),
                         _count(and_(success, _completed_business_date(session) <= CallbackTask.deadline)),
                         _count(and_(done, CallbackTask.result_class == problem_class)))
        .where(CallbackTask.deadline >= first, CallbackTask.deadline <= last)
        .group_by(key)
    )
    names = ("due", "attempted", "successful", "successful_in_cooling_off", "problem")
    return {str(k): dict(zip(names, (int(v or 0) for v in values), strict=True))
            for k, *values in session.execute(stmt)}


def case_counts(session: Session, by: str, start: datetime, end: datetime, *,
                problem_case_types: Collection[CaseType]) -> dict[str, dict[str, int]]:
    """Per group: problem cases raised in [start, end) and how many of them were closed within their SLA by
    `end`; work orders open at `end` and how many of those were past due then. Only those cases are read (not
    every case ever raised), so a group whose cases are all closed before `end` and none a problem case raised
    in the month has no row."""
    problem = and_(Case.type.in_(list(problem_case_types)), Case.created_at >= start, Case.created_at < end)
    closed_in_sla = and_(problem, Case.closed_at.is_not(None), Case.closed_at < end, Case.closed_at <= Case.due_at)
    open_at_end = and_(Case.created_at < end, (Case.closed_at.is_(None)) | (Case.closed_at >= end))
    stmt, key = _grouped(select().select_from(Case), by, Case.policy_id, Case.branch_id, Case.task_id)
    stmt = (
        stmt.add_columns(key, _count(problem), _count(closed_in_sla), _count(open_at_end),
                         _count(and_(open_at_end, Case.due_at < end)))
        .where(Case.created_at < end, or_(problem, open_at_end))
        .group_by(key)
    )
    names = ("problem_cases", "problem_cases_closed_in_sla", "open_cases", "overdue_cases")
    return {str(k): dict(zip(names, (int(v or 0) for v in values), strict=True))
            for k, *values in session.execute(stmt)}


def _completed_business_date(session: Session) -> ColumnElement[date]:
    """The completion's date in Asia/Shanghai (SQLite keeps naive UTC; China has no daylight saving)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", CallbackTask.completed_at))
    return func.date(CallbackTask.completed_at, "+8 hours")


def agent_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Agent.code, Agent.name))}
