"""The case page's reads: the case (through the actor's scope), its policy with the ID number masked, the
callback task, every call with its recordings and transcript, and the case history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cases.actions import load
from cases.views import CaseView, case_detail
from console.formatting import mask_id
from console.recordings.queries import RecordingView, recording_views
from kit.actor import Actor
from recordings.store import RecordingStore
from storage.models import Agent, Branch, Call, CallEvent, Policy
from storage.repositories import calls as call_repo
from tasks.views import TaskView, policy_view


@dataclass(frozen=True)
class CallBlock:
    call: Call
    events: list[CallEvent]
    recordings: list[RecordingView]


@dataclass(frozen=True)
class CasePage:
    case: CaseView
    policy: Policy
    masked_id: str
    agent: str
    branch: str
    task: TaskView | None
    calls: list[CallBlock]


def case_page(db: Session, actor: Actor, case_id: int, now: datetime, files: RecordingStore) -> CasePage:
    case, code = load(db, actor, case_id)  # CaseNotFound out of scope: the same as missing
    view = case_detail(db, case, code, now)
    policy = db.get(Policy, case.policy_id)
    assert policy is not None
    summary = policy_view(db, actor, policy.policy_no, now)
    agent = db.get(Agent, policy.agent_id)
    branch = db.get(Branch, policy.branch_id)
    calls = [CallBlock(c, call_repo.events(db, c.id), recording_views(db, files, actor, c, f"case:{case_id}"))
             for c in call_repo.for_policy(db, policy.id)]
    return CasePage(view, policy, mask_id(policy.applicant_id_no), agent.name if agent else "",
                    branch.name if branch else code, summary.task, calls)
