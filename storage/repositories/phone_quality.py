"""Set-based phone-quality queries over the whole database (docs/domain.md §11, §14 rules 22–23)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, distinct, func, not_, or_, select
from sqlalchemy.orm import Session

from kit.vocab import OPEN_TASK_STATUSES
from storage.models import Agent, CallbackTask, Policy


@dataclass(frozen=True)
class PhoneFacts:
    task_id: int
    policy_id: int
    branch_id: int
    phone: str
    phone_valid: bool
    agent_conflict: bool  # applicant phone = servicing agent's phone on a policy that is not the agent's own
    sharing_applicants: int  # distinct applicants on this number when at or above the threshold, else 0


def open_tasks_with_phone_problems(session: Session, threshold: int) -> list[PhoneFacts]:
    """Every queued or held task whose applicant phone is invalid, the agent's, or shared by ≥ threshold
    different applicants (by ID number, counted across all policies)."""
    shared = (
        select(Policy.applicant_phone.label("phone"), func.count(distinct(Policy.applicant_id_no)).label("n"))
        .where(Policy.applicant_phone_valid)
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
            CallbackTask.status.in_(OPEN_TASK_STATUSES),
            or_(not_(Policy.applicant_phone_valid), agent_conflict, shared.c.n.is_not(None)),
        )
    )
    return [
        PhoneFacts(task_id, policy_id, branch_id, phone, bool(valid), bool(conflict), int(n or 0))
        for task_id, policy_id, branch_id, phone, valid, conflict, n in session.execute(stmt)
    ]
