"""Callback task and hold queries."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from kit.actor import Actor
from kit.vocab import OPEN_TASK_STATUSES, HoldReason, HoldSource, TaskStatus
from storage.models import Branch, CallbackTask, Policy, TaskHold
from storage.repositories.bulk import insert_rows, matching
from storage.repositories.phone_quality import on_phones
from storage.scope import scoped


def by_policy_ids(session: Session, policy_ids: Collection[int]) -> dict[int, CallbackTask]:
    found: dict[int, CallbackTask] = {}
    for condition in matching(session, CallbackTask.policy_id, policy_ids):
        for task in session.scalars(select(CallbackTask).where(condition)):
            found[task.policy_id] = task
    return found


def for_policy(session: Session, policy_id: int) -> CallbackTask | None:
    return session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy_id)).one_or_none()


def insert_many(session: Session, rows: list[dict[str, object]]) -> int:
    """Insert new tasks in one batch, as policies.insert_many (the rows give every column the table has no
    constant default for); returns how many."""
    insert_rows(session, CallbackTask.__table__, rows)  # type: ignore[arg-type]
    return len(rows)


def active_hold_reasons(session: Session, task_ids: Collection[int]) -> dict[int, list[HoldReason]]:
    out: dict[int, list[HoldReason]] = {}
    for condition in matching(session, TaskHold.task_id, task_ids):
        rows = session.execute(
            select(TaskHold.task_id, TaskHold.reason)
            .where(condition, TaskHold.released_at.is_(None))
            .order_by(TaskHold.id)
        )
        for task_id, reason in rows:
            out.setdefault(task_id, []).append(reason)
    return out


def active_holds_on_open_tasks(session: Session,
                               phones: Collection[str] | None = None) -> list[tuple[int, int, HoldReason]]:
    """(hold id, task id, reason) of every unreleased intake hold on a queued or held task; with `phones`, only
    on tasks whose policy has one of those applicant phones."""
    found: list[tuple[int, int, HoldReason]] = []
    for on in on_phones(session, phones):
        stmt = (
            select(TaskHold.id, TaskHold.task_id, TaskHold.reason)
            .join(CallbackTask, CallbackTask.id == TaskHold.task_id)
            .where(TaskHold.released_at.is_(None), TaskHold.source == HoldSource.INTAKE,
                   CallbackTask.status.in_(OPEN_TASK_STATUSES))
        )
        if phones is not None:
            stmt = stmt.join(Policy, Policy.id == CallbackTask.policy_id).where(on)
        found.extend(session.execute(stmt))
    return found


def dialer_holds_on_changed_phones(session: Session,
                                   phones: Collection[str] | None = None) -> list[tuple[int, int, HoldReason]]:
    """(hold id, task id, reason) of unreleased dialer holds whose policy has another phone number now; with
    `phones`, only of policies that have one of those applicant phones now."""
    found: list[tuple[int, int, HoldReason]] = []
    for on in on_phones(session, phones):
        stmt = (
            select(TaskHold.id, TaskHold.task_id, TaskHold.reason)
            .join(CallbackTask, CallbackTask.id == TaskHold.task_id)
            .join(Policy, Policy.id == CallbackTask.policy_id)
            .where(on, TaskHold.released_at.is_(None), TaskHold.source == HoldSource.DIALER,
                   Policy.applicant_phone != TaskHold.phone)
        )
        found.extend(session.execute(stmt))
    return found


def insert_holds(session: Session, rows: list[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(TaskHold), rows)


def release_holds(session: Session, hold_ids: Collection[int], now: datetime, note: str) -> None:
    for condition in matching(session, TaskHold.id, hold_ids):
        session.execute(update(TaskHold).where(condition).values(released_at=now, release_note=note))


def sync_held_status(session: Session, now: datetime, *, held: TaskStatus, released: TaskStatus,
                     phones: Collection[str] | None = None) -> None:
    """An open task is held exactly while it has an unreleased hold: queued → `held` and held → `released` (the
    lifecycle's hold and release-hold targets, given by the caller), each version bumped; with `phones`, only
    the tasks whose policy has one of those applicant phones. Set-based: the rows changed are not fetched back
    (an import releases tens of thousands at once); tasks loaded in the session are expired instead."""
    active = select(TaskHold.task_id).where(TaskHold.released_at.is_(None))
    for on in on_phones(session, phones):
        scope = CallbackTask.policy_id.in_(select(Policy.id).where(on)) if phones is not None else on
        for before, after, holds in ((TaskStatus.QUEUED, held, CallbackTask.id.in_(active)),
                                     (TaskStatus.HELD, released, CallbackTask.id.not_in(active))):
            session.execute(
                update(CallbackTask).where(scope, CallbackTask.status == before, holds)
                .values(status=after, updated_at=now, version_id=CallbackTask.version_id + 1),
                execution_options={"synchronize_session": False},
            )
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, CallbackTask):
            session.expire(loaded, ["status", "updated_at", "version_id"])


def count_with_status(session: Session, policy_ids: Sequence[int], status: TaskStatus) -> int:
    total = 0
    for condition in matching(session, CallbackTask.policy_id, policy_ids):
        total += session.scalar(
            select(func.count()).select_from(CallbackTask).where(condition, CallbackTask.status == status)
        ) or 0
    return total


def listing(
    session: Session, actor: Actor, *, status: TaskStatus | None = None, branch_code: str | None = None
) -> list[tuple[CallbackTask, str]]:
    """Tasks with their policy number, by deadline then policy number (the actor's branches only)."""
    stmt = (
        select(CallbackTask, Policy.policy_no)
        .join(Policy, Policy.id == CallbackTask.policy_id)
        .join(Branch, Branch.id == Policy.branch_id)
        .order_by(CallbackTask.deadline, Policy.policy_no)
    )
    stmt = scoped(stmt, actor, Policy.branch_id, joined=True)
    if status is not None:
        stmt = stmt.where(CallbackTask.status == status)
    if branch_code is not None:
        stmt = stmt.where(Branch.code == branch_code)
    return [(t, no) for t, no in session.execute(stmt)]
