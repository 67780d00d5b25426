"""Which letters a branch prints on a business day: its open letter cases (信函件) raised that day — or, for the
visits, its in-person visit cases (人工亲访件) — one per policy, through the actor's branch scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.actor import CASE_HANDLERS, Actor
from kit.clock import business_start_of
from kit.vocab import CaseStatus
from storage.models import Agent, Branch, CallbackTask, Case, Policy
from storage.scope import scoped


class LettersRefused(ValueError):
    """The batch cannot be made (an unknown branch, or one out of the actor's scope: the same answer)."""


@dataclass(frozen=True)
class LetterCase:
    case: Case
    policy: Policy
    task: CallbackTask
    agent: Agent
    branch: Branch


def letter_cases(session: Session, actor: Actor, branch_code: str, day: date,
                 case_type: CaseType = CaseType.LETTER_CASE) -> list[LetterCase]:
    """The branch's open letter cases (or in-person visit cases) created on `day` (Beijing time), by policy
    number; a policy with more than one gets one letter (its first case)."""
    actor = actor.acting_as(CASE_HANDLERS, "print callback letters")
    branch = session.scalars(scoped(select(Branch).where(Branch.code == branch_code), actor, Branch.id,
                                    joined=True)).one_or_none()
    if branch is None:
        raise LettersRefused(f"no branch {branch_code}")
    start = business_start_of(day)
    stmt = (select(Case, Policy, CallbackTask, Agent)
            .join(Policy, Policy.id == Case.policy_id)
            .join(CallbackTask, CallbackTask.id == Case.task_id)
            .join(Agent, Agent.id == Policy.agent_id)
            .where(Case.branch_id == branch.id, Case.type == case_type,
                   Case.status.in_([CaseStatus.OPEN, CaseStatus.IN_PROGRESS]),
                   Case.created_at >= start, Case.created_at < start + timedelta(days=1))
            .order_by(Policy.policy_no, Case.id))
    found: dict[str, LetterCase] = {}
    for case, policy, task, agent in session.execute(stmt):
        found.setdefault(policy.policy_no, LetterCase(case, policy, task, agent, branch))
    return list(found.values())
