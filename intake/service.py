"""Import a policy file: validate every row, keep the good ones, decide callbacks, deadlines and holds.

A file commits in chunks of `chunk_rows` rows, each chunk in a transaction of its own from the caller's
unit-of-work factory, so a large file never holds one transaction (nor SQLite's write lock, nor PostgreSQL's
row locks) for its whole run. The phone-quality rules then run set-based in one last transaction, for the
numbers the chunks touched (each chunk remembers them: intake.phone_quality). Until that last transaction has looked at their phones, the tasks a chunk creates, and
the queued tasks whose policy it changes, are held (status held, no hold yet): if the process dies between
a chunk and the end, none of them is dialled. Importing the same file again finishes the job (policies are
matched by policy_no, the committed rows come back unchanged) and the phone rules release them.

Chunks of different imports (two API batches, the console and the CLI) commit side by side on PostgreSQL: when
two insert the same new policy number, agent or branch at once, the database's unique keys refuse the later one
(or its deadlock detector picks one), and that chunk is written again from the start, where the other's rows are
now there to update (`STORE_ATTEMPTS`). New policies keep the file's order (ids break the dialer's ties); two
chunks inserting the same new policies in different orders deadlock, and PostgreSQL's detector refuses one.
The phone rules, which add and release holds, run one import at a time (the advisory lock `intake:writes`):
two at once would both add the same hold. SQLite's write lock serialises everything there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from intake import problems, rules
from intake.phone_quality import reevaluate_rechecked_phones, remember_for_recheck
from intake.reader import IntakeTable, RawRow
from intake.record import PolicyRecord, RowError
from intake.validate import validate_row
from kit.calendar import BusinessCalendar, UnknownCalendarYear
from kit.clock import Clock, business_today
from kit.settings import Settings
from kit.vocab import TaskStatus
from storage.db import UnitOfWork
from storage.locks import INTAKE, hold_for_transaction
from storage.models import CallbackTask, Policy
from storage.repositories import org as org_repo
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo
from tasks.lifecycle import TaskEvent, apply

CHUNK_ROWS = 2000  # rows per transaction: short enough for other writers, long enough to batch inserts
STORE_ATTEMPTS = 5  # a chunk that lost a race for a new key to another import's chunk is written again
# PostgreSQL's codes for a lost race: unique_violation, deadlock_detected, serialization_failure
RACE_SQLSTATES = frozenset({"23505", "40P01", "40001"})


def lost_race(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL refusing a write because a concurrent transaction got there first: raised by
    psycopg directly (COPY) or wrapped by SQLAlchemy. SQLite serialises writers, so never there."""
    for error in (exc, getattr(exc, "orig", None)):
        if getattr(error, "sqlstate", None) in RACE_SQLSTATES:
            return True
    return False


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    excluded: int = 0
    tasks_created: int = 0
    held: int = 0
    holds_added: int = 0
    holds_released: int = 0
    rejected: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def add(self, chunk: ImportSummary) -> None:
        """Count a committed chunk in (the holds are counted once, at the end of the import)."""
        for name in ("rows", "imported", "updated", "unchanged", "excluded", "tasks_created"):
            setattr(self, name, getattr(self, name) + getattr(chunk, name))
        self.rejected.extend(chunk.rejected)

    @property
    def rejected_rows(self) -> int:
        """Rows rejected (a row with three problems is one row; `rejected` lists every problem)."""
        return len({e.row for e in self.rejected})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "excluded": self.excluded,
            "tasks_created": self.tasks_created,
            "held": self.held,
            "holds_added": self.holds_added,
            "holds_released": self.holds_released,
            "rejected": [e.as_dict() for e in self.rejected],
            "rejected_rows": self.rejected_rows,
            "errors": len(self.rejected),
            "ignored_columns": self.ignored_columns,
        }


@dataclass(frozen=True)
class _Derived:
    """What intake decides for one valid row."""

    record: PolicyRecord
    decision: rules.CallbackDecision
    cooling_off_end: date | None
    dual_recorded: bool
    task: dict[str, Any] | None  # opens_on, deadline, questionnaire_variant when a task should exist


class ImportInterrupted(RuntimeError):
    """An import that stopped part-way. `summary` counts what is committed: the rows up to `committed_through`
    (a spreadsheet row number; None: none). Importing the same file again finishes the job."""

    def __init__(self, summary: ImportSummary, committed_through: int | None, cause: BaseException,
                 *, in_phone_rules: bool = False) -> None:
        self.summary, self.committed_through, self.cause = summary, committed_through, cause
        lines = str(cause).strip().splitlines()
        why = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
        if committed_through is None:
            message = f"the import stopped in its first chunk ({why}); nothing is committed"
        else:
            done = (f"{summary.rows} rows are committed ({summary.imported} new, {summary.updated} updated, "
                    f"{summary.unchanged} unchanged, {summary.rejected_rows} rejected)")
            if in_phone_rules:
                message = f"the phone-quality check failed after every row was committed ({why}); {done}"
            else:
                message = f"the import stopped after row {committed_through} ({why}); {done}, none after it"
            message += ("; until the file is imported again, the new and changed tasks of this file stay held "
                        "(phones not checked yet)")
        super().__init__(f"{message}. Import the same file again to finish: rows already in come back unchanged")


class PolicyIntake:
    """`unit_of_work()` opens one step's transaction, committed when its block ends without an exception
    (storage.db.units_of_work): each chunk is a whole step. `after_chunk` is called with the running summary after
    each chunk commits (a progress bar, the console's import job), `before_phone_rules` once every row is in."""

    def __init__(self, unit_of_work: UnitOfWork, *, settings: Settings, calendar: BusinessCalendar, clock: Clock,
                 chunk_rows: int | None = None, after_chunk: Callable[[ImportSummary], None] | None = None,
                 before_phone_rules: Callable[[ImportSummary], None] | None = None) -> None:
        self.chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {self.chunk_rows}")
        self.unit_of_work = unit_of_work
        self.settings = settings
        self.calendar = calendar
        self.clock = clock
        self.after_chunk = after_chunk
        self.before_phone_rules = before_phone_rules
        self._branches: dict[str, int] = {}  # ids of committed rows, kept across chunks
        self._agents: dict[str, int] = {}

    def run(self, table: IntakeTable) -> ImportSummary:
        """Import every row; raises ImportInterrupted (what is committed, and what to do) when it stops."""
        summary = ImportSummary(ignored_columns=list(table.ignored_columns))
        seen: dict[str, int] = {}
        policy_ids: list[int] = []
        committed_through: int | None = None
        self._branches.clear()
        self._agents.clear()
        chunks = _chunks(table.rows, self.chunk_rows)
        while True:
            part = ImportSummary()
            try:
                chunk = next(chunks, None)  # reading the file may fail too (a bad byte half-way)
                if chunk is None:
                    break
                derived: list[_Derived] = []
                for raw in chunk:
                    part.rows += 1
                    item = self._derive(raw, seen)
                    if isinstance(item, list):
                        part.rejected.extend(item)
                    else:
                        derived.append(item)
                ids = self._store_chunk(derived, part)
            except Exception as exc:
                raise ImportInterrupted(summary, committed_through, exc) from exc
            summary.add(part)
            policy_ids.extend(ids)
            committed_through = chunk[-1].row
            if self.after_chunk is not None:
                self.after_chunk(summary)
        if self.before_phone_rules is not None:
            self.before_phone_rules(summary)
        try:
            with self.unit_of_work() as session:
                hold_for_transaction(session, INTAKE)
                changes = reevaluate_rechecked_phones(
                    session, now=self.clock.now(), settings=self.settings, calendar=self.calendar
                )
                held = task_repo.count_with_status(session, policy_ids, TaskStatus.HELD)
        except Exception as exc:
            raise ImportInterrupted(summary, committed_through, exc, in_phone_rules=True) from exc
        summary.holds_added, summary.holds_released, summary.held = changes.added, changes.released, held
        return summary

    # -- per row ---------------------------------------------------------------------------------

    def _derive(self, raw: RawRow, seen: dict[str, int]) -> _Derived | list[RowError]:
        today = business_today(self.clock)
        result = validate_row(raw, self.settings, today)
        if isinstance(result, list):
            return result
        record = result
        if record.policy_no in seen:
            return [problems.DUPLICATE_POLICY_NO.at(raw.row, "policy_no", policy_no=record.policy_no,
                                                    first=seen[record.policy_no])]
        seen[record.policy_no] = raw.row
        decision = rules.callback_decision(
            is_group=record.is_group,
            term_years=record.policy_term_years,
            product_type=record.product_type,
            guaranteed_renewal=record.guaranteed_renewal,
        )
        end: date | None = None
        if record.receipt_signed_date is not None:
            try:
                end = rules.cooling_off_end(
                    record.receipt_signed_date, record.cooling_off_days, self.settings.cooling_off, self.calendar
                )
            except UnknownCalendarYear as exc:
                return [problems.CALENDAR_YEAR_UNKNOWN.at(raw.row, "receipt_signed_date", reason=exc, year=exc.year,
                                                          signed=record.receipt_signed_date)]
        dual = record.dual_recorded
        if dual is None:
            dual = rules.in_dual_recording_scope(
                channel=record.channel,
                product_type=record.product_type,
                term_years=record.policy_term_years,
                applicant_birth_date=record.applicant_birth_date,
                issue_date=record.issue_date,
                settings=self.settings.dual_recording,
            )
        task = None
        if decision.required and end is not None and record.receipt_logged_date is not None:
            planned = rules.planned_callback_date(record.receipt_logged_date, today, self.settings.callback)
            task = {
                "opens_on": record.receipt_logged_date,
                "deadline": end,
                "questionnaire_variant": rules.questionnaire_variant(
                    callback_date=planned, cooling_off_end=end, issue_date=record.issue_date,
                    settings=self.settings.callback,
                ),
            }
        return _Derived(record, decision, end, dual, task)

    # -- per chunk -------------------------------------------------------------------------------

    def _store_chunk(self, items: list[_Derived], part: ImportSummary) -> list[int]:
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

    def _store(self, session: Session, items: list[_Derived], summary: ImportSummary) -> list[int]:
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

    def _ensure_org(self, session: Session, items: list[_Derived]) -> set[str]:
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

    def _policy_values(self, d: _Derived) -> dict[str, Any]:
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


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
