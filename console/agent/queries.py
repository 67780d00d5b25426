"""The agent desk's reads: the calls handed off to the signed-in agent (in progress, and earlier today) and
one such call's context. A call is the agent's when it was handed to the agent's line (`calls.handoff_target`
= `users.agent_line`) and its policy is in the agent's branches (storage.scope); any other call is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from accounts.service import by_name
from calls.transcript import Line, transcript
from console.formatting import mask_id
from flows.engine import CallState
from kit.actor import Actor, Role
from kit.clock import BUSINESS_TZ, business_start_of
from storage.models import Agent, Call, Policy
from storage.repositories import calls as call_repo
from storage.scope import scoped

STILL_OPEN = timedelta(hours=1)  # a call begun before midnight and not ended yet still shows as in progress


class HandoffNotFound(LookupError):
    """No such call handed to this agent (or not in their branches): the same answer as a missing call."""


@dataclass(frozen=True)
class HandoffRow:
    call_sid: str
    policy_no: str
    applicant: str
    product: str
    topic: str | None
    reason: str | None
    started_at: datetime
    ended_at: datetime | None
    agent_outcome: str | None
    result_class: str | None


@dataclass(frozen=True)
class Desk:
    line: str | None  # the agent's line; None: the account is not linked to one (nothing can be handed to it)
    in_progress: list[HandoffRow]
    earlier: list[HandoffRow]
    pending: list[HandoffRow]  # before today, ended, the outcome form never filled in (oldest first)


PENDING_LIMIT = 100  # the oldest outcome forms still owed, shown below today's


def agent_line(db: Session, actor: Actor) -> str | None:
    user = by_name(db, actor.user)
    return user.agent_line if user is not None else None


def _mine(actor: Actor, line: str) -> Select[Call, Policy]:
    stmt = (select(Call, Policy).join(Policy, Policy.id == Call.policy_id)
            .where(Call.handoff_target == line, Call.handoff_topic.is_not(None)))
    return scoped(stmt, actor, Policy.branch_id)


def _row(call: Call, policy: Policy) -> HandoffRow:
    return HandoffRow(call.call_sid, policy.policy_no, policy.applicant_name, policy.product_name, call.handoff_topic,
                      call.handoff_reason, call.started_at or call.created_at, call.ended_at,
                      call.agent_outcome.value if call.agent_outcome else None,
                      call.result_class.value if call.result_class else None)


def desk(db: Session, actor: Actor, now: datetime) -> Desk:
    """The agent's hand-offs of today (Asia/Shanghai day), newest first: those not ended, then the others."""
    actor.require({Role.AGENT}, "use the agent desk")
    line = agent_line(db, actor)
    if line is None:
        return Desk(None, [], [], [])
    today = business_start_of(now.astimezone(BUSINESS_TZ).date())
    stmt = _mine(actor, line).where(or_(Call.created_at >= today,
                                        and_(Call.created_at >= now - STILL_OPEN, Call.ended_at.is_(None))))
    rows = [_row(c, p) for c, p in db.execute(stmt.order_by(Call.created_at.desc(), Call.id.desc()))]
    seen = {r.call_sid for r in rows}
    pending = _mine(actor, line).where(Call.created_at < today, Call.ended_at.is_not(None),
                                       Call.agent_outcome.is_(None))
    owed = [_row(c, p) for c, p in db.execute(pending.order_by(Call.created_at, Call.id).limit(PENDING_LIMIT))]
    return Desk(line, [r for r in rows if r.ended_at is None], [r for r in rows if r.ended_at is not None],
                [r for r in owed if r.call_sid not in seen])


@dataclass(frozen=True)
class HandoffPage:
    call: Call
    policy: Policy
    masked_id: str
    sales_agent: str
    answers: list[tuple[str, str]]  # (topic, answer) as the robot took them, in the order asked
    lines: list[Line]


def handoff(db: Session, actor: Actor, call_sid: str) -> HandoffPage:
    """What the agent needs when the call comes through: the policy, the answers so far, the topic the caller
    stumbled on, and the call's record."""
    actor.require({Role.AGENT}, "use the agent desk")
    line = agent_line(db, actor)
    found = db.execute(_mine(actor, line).where(Call.call_sid == call_sid)).one_or_none() if line else None
    if found is None:
        raise HandoffNotFound(call_sid)
    call, policy = found
    state = CallState.from_dict(call.state) if call.state is not None else None
    sales = db.get(Agent, policy.agent_id)
    return HandoffPage(call, policy, mask_id(policy.applicant_id_no), sales.name if sales else "",
                       list(state.answers.items()) if state else [], transcript(call_repo.events(db, call.id)))
