"""Writing an import's chunk: its branches, agents, policies and tasks, in one transaction of the caller's.

Chunks of different imports (two API batches, the console and the CLI) commit side by side on PostgreSQL: when
two insert the same new policy number, agent or branch at once, the database's unique keys refuse the later one
(or its deadlock detector picks one), and that chunk is written again from the start, where the other's rows are
now there to update (`STORE_ATTEMPTS`, storage.locks.lost_race). New policies keep the file's order (ids break
the dialer's ties); two chunks inserting the same new policies in different orders deadlock, and PostgreSQL's
detector refuses one. A chunk's new tasks, and the queued tasks of policies it changes, are held until the
import's phone rules have looked at them (intake.service).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from intake import rules
from intake.phone_quality import remember_for_recheck
from intake.record import PolicyRecord
from intake.summary import ImportSummary
from kit.clock import Clock
from kit.vocab import TaskStatus
from storage.db import UnitOfWork
from storage.locks import lost_race
from storage.models import CallbackTask, Policy
from storage.repositories import org as org_repo
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo
from tasks.lifecycle import TaskEvent, apply

STORE_ATTEMPTS = 5  # a chunk that lost a race for a new key to another import's chunk is written again


@dataclass(frozen=True)
class Derived:
    """What intake decides for one valid row."""

    record: PolicyRecord
    decision: rules.CallbackDecision
    cooling_off_end: date | None
    dual_recorded: bool
    task: dict[str, Any] | None  # opens_on, deadline, questionnaire_variant when a task should exist


class ChunkStore:
    """Writes one import's chunks; remembers the ids of the branches and agents committed so far (one import)."""

    def __init__(self, unit_of_work: UnitOfWork, clock: Clock) -> None:
        self.unit_of_work = unit_of_work
        self.clock = clock
        self._branches: dict[str, int] = {}  # ids of committed rows, kept across chunks
        self._agents: dict[str, int] = {}

    def write(self, items: list[Derived], part: ImportSummary) -> list[int]:
        """`_store` in a transaction of its own, written again when it lost a race for a new key (module
        docstring); the ids of committed branches and agents it had cached are forgotten with the rollback."""
        counts = (part.imported, part.updated, part.unchanged, part.excluded, part.tasks_created)
        for attempt in range(1, STORE_ATTEMPTS + 1):
            branches, agents = dict(self._branches), dict(self._agents)
            try:
                with self.unit_of_work() as session:
                    return self._store(session, items, part)
            except Exception as exc:
                self._branches, self._agents = branches, agents
                (part.imported, part.updated, part.unchanged, part.excluded, part.tasks_created) = counts
                if attempt == STORE_ATTEMPTS or not lost_race(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _store(self, session: Session, items: list[Derived], summary: ImportSummary) -> list[int]:
        """Write one chunk. Its new tasks, and the queued tasks of policies it changes, wait held for the
        phone rules at the end of the import (module docstring)."""
        if not items:
            return []
        now = self.clock.now()
        phones = self._ensure_org(session, items)  # the changed agents' old and new numbers
        existing = policy_repo.by_numbers(session, [d.record.policy_no for d in items])
        # every policy's new number, and the old one of each it updates (read before it is overwritten)
        phones.update(d.record.applicant_phone.stored for d in items)
        phones.update(policy.applicant_phone for policy in existing.values())
        new_items = [d for d in items if d.record.policy_no not in existing]  # the file's order: the dialer's tie-break
        ids = policy_repo.insert_many(session, [self._policy_values(d) | {"created_at": now, "updated_at": now}
                                                for d in new_items])
        summary.imported += len(new_items)
        new_tasks = [
            {**d.task, "policy_id": ids[d.record.policy_no]} for d in new_items if d.task is not None
        ]
        updated_items = [d for d in items if d.record.policy_no in existing]
        tasks = task_repo.by_policy_ids(session, [existing[d.record.policy_no].id for d in updated_items])
        for d in updated_items:
            policy = existing[d.record.policy_no]
            changed = _apply(policy, self._policy_values(d))
            if changed:
                policy.updated_at = now
                summary.updated += 1
            else:
                summary.unchanged += 1
            task = tasks.get(policy.id)
            if task is None:
                if d.task is not None:
                    new_tasks.append({**d.task, "policy_id": policy.id})
            elif task.status in (TaskStatus.QUEUED, TaskStatus.HELD):
                if d.task is None and not d.decision.required:
                    apply(task, TaskEvent.CANCEL, now)
                else:
                    if d.task is not None and _apply(task, d.task):
                        task.updated_at = now
                    if changed and task.status is TaskStatus.QUEUED:
                        apply(task, TaskEvent.HOLD, now)  # until the phone rules have looked at it
        summary.tasks_created += task_repo.insert_many(
            session,
            [t | {"status": TaskStatus.HELD, "attempts": 0, "reason_codes": [], "created_at": now, "updated_at": now}
             for t in sorted(new_tasks, key=lambda t: t["policy_id"])],
        )
        summary.excluded += sum(1 for d in items if not d.decision.required)
        remember_for_recheck(session, phones)
        return list(ids.values()) + [existing[d.record.policy_no].id for d in updated_items]

    def _ensure_org(self, session: Session, items: list[Derived]) -> set[str]:
        """Find or create the chunk's branches and agents (an agent's name and phone as the chunk gives them);
        returns the old and new phone numbers of the agents whose phone changed."""
        now = self.clock.now()
        branch_names = {d.record.branch_code: d.record.branch_name for d in items}
        missing = [c for c in branch_names if c not in self._branches]
        if missing:
            self._branches.update(org_repo.branch_ids(session, missing))
            new = {c: branch_names[c] for c in sorted(missing) if c not in self._branches}
            self._branches.update(org_repo.insert_branches(session, new, now))
        agents = {d.record.agent_code: d.record for d in items}
        known = org_repo.agents_by_code(session, list(agents))
        changed: list[org_repo.AgentFacts] = []
        phones: set[str] = set()
        for code, agent in known.items():  # the latest file is the truth for an agent's name and phone
            record = agents[code]
            latest = org_repo.AgentFacts(agent.id, record.agent_name, record.agent_phone.stored)
            if latest != agent:
                changed.append(latest)
            if latest.phone != agent.phone:
                phones.update((agent.phone, latest.phone))
            self._agents[code] = agent.id
        org_repo.rename_agents(session, sorted(changed, key=lambda a: a.id))
        rows: list[dict[str, object]] = [
            {"code": c, "name": r.agent_name, "phone": r.agent_phone.stored,
             "branch_id": self._branches[r.branch_code], "created_at": now}
            for c, r in sorted(agents.items()) if c not in known
        ]
        self._agents.update(org_repo.insert_agents(session, rows))
        return phones

    def _policy_values(self, d: Derived) -> dict[str, Any]:
        r = d.record
        return {
            "policy_no": r.policy_no,
            "product_code": r.product_code,
            "product_name": r.product_name,
            "product_type": r.product_type,
            "channel": r.channel,
            "policy_term_years": r.policy_term_years,
            "guaranteed_renewal": r.guaranteed_renewal,
            "is_group": r.is_group,
            "premium": r.premium,
            "payment_frequency": r.payment_frequency,
            "payment_years": r.payment_years,
            "issue_date": r.issue_date,
            "receipt_signed_date": r.receipt_signed_date,
            "receipt_logged_date": r.receipt_logged_date,
            "cooling_off_days": r.cooling_off_days,
            "cooling_off_end": d.cooling_off_end,
            "applicant_name": r.applicant_name,
            "applicant_gender": r.applicant_gender,
            "applicant_birth_date": r.applicant_birth_date,
            "applicant_id_no": r.applicant_id_no,
            "applicant_phone": r.applicant_phone.stored,
            "applicant_phone_valid": r.applicant_phone.valid,
            "applicant_phone2": r.applicant_phone2.stored if r.applicant_phone2 else None,
            "insured_name": r.insured_name,
            "insured_is_applicant": r.insured_is_applicant,
            "agent_id": self._agents[r.agent_code],
            "agent_is_applicant": r.agent_is_applicant,
            "branch_id": self._branches[r.branch_code],
            "bank_name": r.bank_name,
            "dual_recorded": d.dual_recorded,
            "dual_recorded_derived": r.dual_recorded is None,
            "callback_required": d.decision.required,
            "exclusion_reason": d.decision.exclusion_reason,
        }

def _apply(obj: Policy | CallbackTask, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed
