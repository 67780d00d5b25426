"""Set-based phone-quality queries (docs/domain.md §11, §14 rules 22–23): over the whole database, or over the
policies on given phone numbers (an import's, kept in `phone_rechecks` until evaluated)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, distinct, func, not_, or_, select, text, true
from sqlalchemy.orm import Session

from kit.vocab import OPEN_TASK_STATUSES
from storage.models import Agent, CallbackTask, PhoneRecheck, Policy
from storage.repositories.bulk import insert_rows, matching


@dataclass(frozen=True)
class PhoneFacts:
    task_id: int
    policy_id: int
    branch_id: int
    phone: str
    phone_valid: bool
    agent_conflict: bool  # applicant phone = servicing agent's phone on a policy that is not the agent's own
    sharing_applicants: int  # distinct applicants on this number when at or above the threshold, else 0


def plan_for_these_values(session: Session) -> None:
    """PostgreSQL: plan this transaction's statements for the numbers they are given (SET LOCAL plan_cache_mode).

    psycopg prepares a statement run five times; the server may then keep one generic plan for any array of
    numbers, made when the tables were small, and on a table that grew since (an initial load by the API) that
    plan tested every policy against every number of the batch: 2-8 s a batch at 30,000 policies with one
    client sending (bench/api.py). Planned for the actual values, the same statements take milliseconds."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def on_phones(session: Session, phones: Collection[str] | None) -> Iterator[ColumnElement[bool]]:
    """Conditions on Policy.applicant_phone, each for a query of its own (bulk.matching): one that holds for every
    policy when `phones` is None (the whole database), none when it is empty."""
    if phones is None:
        yield true()
    else:
        yield from matching(session, Policy.applicant_phone, phones)


def open_tasks_with_phone_problems(session: Session, threshold: int,
                                   phones: Collection[str] | None = None) -> list[PhoneFacts]:
    """Every queued or held task whose applicant phone is invalid, the agent's, or shared by ≥ threshold
    different applicants (by ID number, counted across all policies); with `phones`, only the tasks of policies
    on those numbers (the sharing still counted across all policies: by the index on applicant_phone)."""
    if phones is None:
        return _problems(session, threshold, true())
    found: list[PhoneFacts] = []
    for condition in on_phones(session, phones):
        found.extend(_problems_on(session, threshold, condition))
    return found


def _problems_on(session: Session, threshold: int, on: ColumnElement[bool]) -> list[PhoneFacts]:
    """`_problems` for some numbers, in two plain queries: the shared numbers among them (counted across all
    policies), then their policies' open tasks, the rules applied here. One query joining the grouped count
    (as `_problems` does) ran 2-8 s a batch on PostgreSQL once psycopg had prepared it: the generic plan made
    while the tables were small rescanned the grouped subquery for every task (bench/api.py, one client)."""
    counted = (select(Policy.applicant_phone, func.count(distinct(Policy.applicant_id_no)))
               .where(Policy.applicant_phone_valid, on)
               .group_by(Policy.applicant_phone)
               .having(func.count(distinct(Policy.applicant_id_no)) >= threshold))
    shared: dict[str, int] = {str(phone): int(n) for phone, n in session.execute(counted)}
    agent_conflict = and_(Policy.applicant_phone == Agent.phone, not_(Policy.agent_is_applicant))
    stmt = (select(CallbackTask.id, Policy.id, Policy.branch_id, Policy.applicant_phone, Policy.applicant_phone_valid,
                   agent_conflict)
            .join(Policy, Policy.id == CallbackTask.policy_id)
            .join(Agent, Agent.id == Policy.agent_id)
            .where(on, CallbackTask.status.in_(OPEN_TASK_STATUSES)))
    found: list[PhoneFacts] = []
    for task_id, policy_id, branch_id, phone, valid, conflict in session.execute(stmt):
        n = shared.get(phone, 0) if valid else 0
        if not valid or conflict or n:
            found.append(PhoneFacts(task_id, policy_id, branch_id, phone, bool(valid), bool(conflict), n))
    return found


def _problems(session: Session, threshold: int, on: ColumnElement[bool]) -> list[PhoneFacts]:
    shared = (
        select(Policy.applicant_phone.label("phone"), func.count(distinct(Policy.applicant_id_no)).label("n"))
        .where(Policy.applicant_phone_valid, on)
        .group_by(Policy.applicant_phone)
        .having(func.count(distinct(Policy.applicant_id_no)) >= threshold)
        .subquery()
    )
    agent_conflict = and_(Policy.applicant_phone == Agent.phone, not_(Policy.agent_is_applicant))
    stmt = (
        select(
            CallbackTask.id,
            Policy.id,
            Policy.branch_id,
            Policy.applicant_phone,
            Policy.applicant_phone_valid,
            agent_conflict,
            shared.c.n,
        )
        .join(Policy, Policy.id == CallbackTask.policy_id)
        .join(Agent, Agent.id == Policy.agent_id)
        .outerjoin(shared, shared.c.phone == Policy.applicant_phone)
        .where(
            on,
            CallbackTask.status.in_(OPEN_TASK_STATUSES),
            or_(not_(Policy.applicant_phone_valid), agent_conflict, shared.c.n.is_not(None)),
        )
    )
    return [
        PhoneFacts(task_id, policy_id, branch_id, phone, bool(valid), bool(conflict), int(n or 0))
        for task_id, policy_id, branch_id, phone, valid, conflict, n in session.execute(stmt)
    ]


def add_rechecks(session: Session, phones: Collection[str]) -> None:
    """Remember numbers whose holds are to be evaluated (in the caller's transaction)."""
    insert_rows(session, PhoneRecheck.__table__, [{"phone": phone} for phone in phones])  # type: ignore[arg-type]


def take_rechecks(session: Session) -> set[str]:
    """The numbers remembered so far, forgotten as they are returned: evaluate them in the same transaction, under
    intake's lock (storage.locks.INTAKE), which every evaluation holds. Imports add numbers without that lock, so
    one statement deletes exactly the rows it returns: a row committed meanwhile (with a smaller id, taken from the
    sequence earlier) is neither lost nor taken, and waits for the next evaluation."""
    return set(session.scalars(delete(PhoneRecheck).returning(PhoneRecheck.phone)))
