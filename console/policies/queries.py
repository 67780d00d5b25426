"""The policy desk's reads: the search (policy number, phone, applicant name) and one policy's page (its callback
task and a single timeline of calls, cases and case history), both through the actor's branch scope."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, case, or_, select
from sqlalchemy.orm import Session

from calls.transcript import Line, transcript
from calls.views import CallView
from cases.views import CaseView, HistoryLine
from console.formatting import mask_id
from console.recordings.queries import RecordingView, recording_views
from intake.phones import normalize_phone
from kit.actor import CASE_READERS, Actor
from kit.vocab import CallbackChannel
from recordings.snapshots import SnapshotRef, of_calls
from recordings.store import RecordingStore
from storage.models import Agent, Branch, Call, CallbackTask, CallEvent, Policy
from storage.repositories import calls as call_repo
from storage.repositories import cases as case_repo
from storage.scope import scoped
from tasks.views import PolicyNotFound, TaskView, policy_view

PAGE_SIZE = 50
PHONE_LIKE = re.compile(r"[+\d][\d\s\-()（）.]{5,}")  # worth comparing as a phone number once normalised

__all__ = ["PolicyNotFound", "search", "policy_page"]


@dataclass(frozen=True)
class SearchRow:
    policy_no: str
    applicant: str
    phone: str
    product: str
    branch: str
    cooling_off_end: date | None
    callback_required: bool
    task_status: str | None
    result_class: str | None


@dataclass(frozen=True)
class SearchPage:
    q: str
    rows: list[SearchRow]
    page: int
    has_next: bool

    @property
    def exact_hit(self) -> str | None:
        """The policy number when the search typed one exactly and found that policy alone (go straight to it)."""
        only = len(self.rows) == 1 and self.page == 1 and not self.has_next
        return self.rows[0].policy_no if only and self.rows[0].policy_no in (self.q, self.q.upper()) else None


def _matches(q: str) -> ColumnElement[bool]:
    """A policy number (exact or its start), an applicant name (exact or part of it), a phone number (exact,
    written any way intake would accept: spaces, dashes, +86)."""
    terms: list[ColumnElement[bool]] = [Policy.policy_no.startswith(q, autoescape=True),
                                        Policy.applicant_name.contains(q, autoescape=True)]
    if q.upper() != q:
        terms.append(Policy.policy_no.startswith(q.upper(), autoescape=True))
    if PHONE_LIKE.fullmatch(q):
        stored = normalize_phone(q).stored  # the form intake stores: E.164 when valid, else the cleaned input
        terms += [Policy.applicant_phone == stored, Policy.applicant_phone2 == stored]
    return or_(*terms)


def search(db: Session, actor: Actor, q: str, page: int) -> SearchPage:
    """Policies matching `q` in the actor's branches, exact policy numbers first, 50 a page."""
    actor.require(CASE_READERS, "search policies")
    q = q.strip()
    stmt = (select(Policy, Branch.name, CallbackTask.status, CallbackTask.result_class)
            .join(Branch, Branch.id == Policy.branch_id)
            .outerjoin(CallbackTask, CallbackTask.policy_id == Policy.id)
            .where(_matches(q))
            .order_by(case((Policy.policy_no.in_([q, q.upper()]), 0), else_=1), Policy.policy_no)
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
    found = db.execute(scoped(stmt, actor, Policy.branch_id, joined=True)).all()
    rows = [SearchRow(p.policy_no, p.applicant_name, p.applicant_phone, p.product_name, branch, p.cooling_off_end,
                      p.callback_required, status.value if status else None, result.value if result else None)
            for p, branch, status, result in found[:PAGE_SIZE]]
    return SearchPage(q, rows, page, len(found) > PAGE_SIZE)


@dataclass(frozen=True)
class CallEntry:
    view: CallView
    ended_at: datetime | None
    handoff_topic: str | None
    handoff_reason: str | None
    agent_outcome: str | None
    lines: list[Line]
    recordings: list[RecordingView]
    channel: str = "phone"  # a Twilio call, or the questionnaire off the phone (the e-callback's H5 session)
    screens: list[SnapshotRef] = field(default_factory=list)  # the e-callback's key screens kept


@dataclass(frozen=True)
class Entry:
    """One moment of the policy's timeline: a call, a case opened, or a step in a case's handling."""

    at: datetime
    kind: str  # call | case | handling
    call: CallEntry | None = None
    case: CaseView | None = None
    handling: HistoryLine | None = None


@dataclass(frozen=True)
class PolicyPage:
    policy: Policy
    masked_id: str
    agent: str
    branch: str
    task: TaskView | None
    cases: list[CaseView]
    timeline: list[Entry] = field(default_factory=list)


ORDER = {"call": 0, "case": 1, "handling": 2}  # at the same moment: the call, the case it opened, its handling


def policy_page(db: Session, actor: Actor, policy_no: str, now: datetime, files: RecordingStore) -> PolicyPage:
    """The policy with its callback state (tasks.views.policy_view, the same read as `huifang policies show`)
    and its timeline, oldest first. PolicyNotFound when it is not in the actor's branches."""
    view = policy_view(db, actor, policy_no, now)
    policy = view.policy
    agent = db.get(Agent, policy.agent_id)
    branch = db.get(Branch, policy.branch_id)
    entries = [Entry(c.view.started_at, "call", call=c) for c in _calls(db, actor, policy, view.calls, files)]
    for c in view.cases:
        entries.append(Entry(c.created_at, "case", case=c))
        entries += [Entry(e.at, "handling", case=c, handling=HistoryLine(e.at, e.who, e.action, e.note))
                    for e in case_repo.events(db, c.id) if e.action != "opened"]
    entries.sort(key=lambda e: (e.at, ORDER[e.kind]))
    return PolicyPage(policy, mask_id(policy.applicant_id_no), f"{agent.name}（{agent.code}）" if agent else "",
                      branch.name if branch else "", view.task, view.cases, entries)


def _calls(db: Session, actor: Actor, policy: Policy, views: list[CallView], files: RecordingStore) -> list[CallEntry]:
    rows = {c.call_sid: c for c in call_repo.for_policy(db, policy.id)}
    events: dict[int, list[CallEvent]] = defaultdict(list)
    ids = [c.id for c in rows.values()]
    if ids:
        for event in db.scalars(select(CallEvent).where(CallEvent.call_id.in_(ids))
                                .order_by(CallEvent.call_id, CallEvent.seq)):
            events[event.call_id].append(event)
    screens = of_calls(db, ids)
    out = []
    for view in views:
        call: Call = rows[view.call_sid]
        ended = call.ended_at if call.channel is CallbackChannel.PHONE else call.ended_at or call.finished_at
        out.append(CallEntry(view, ended, call.handoff_topic, call.handoff_reason,
                             call.agent_outcome.value if call.agent_outcome else None, transcript(events[call.id]),
                             recording_views(db, files, actor, call, f"policy:{policy.policy_no}"),
                             call.channel.value, screens.get(call.id, [])))
    return out
