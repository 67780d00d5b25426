"""Import a policy file: validate every row, keep the good ones, decide callbacks, deadlines and holds.

A file commits in chunks of `chunk_rows` rows, each chunk in a transaction of its own from the caller's
unit-of-work factory, so a large file never holds one transaction (nor SQLite's write lock, nor PostgreSQL's
row locks) for its whole run. The phone-quality rules then run set-based in one last transaction, for the
numbers the chunks touched (each chunk remembers them: intake.phone_quality). Until that last transaction has
looked at their phones, the tasks a chunk creates, and the queued tasks whose policy it changes, are held (status held, no hold yet): if the process dies between
a chunk and the end, none of them is dialled. Importing the same file again finishes the job (policies are
matched by policy_no, the committed rows come back unchanged) and the phone rules release them.

Chunks of different imports commit side by side (intake.store: a chunk that loses a race for a new key is
written again). The phone rules, which add and release holds, run one import at a time (the advisory lock
`intake:writes`): two at once would both add the same hold. SQLite's write lock serialises everything there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import islice

from intake import problems, rules
from intake.phone_quality import reevaluate_rechecked_phones
from intake.reader import IntakeTable, RawRow
from intake.record import RowError
from intake.store import ChunkStore, Derived
from intake.summary import ImportSummary
from intake.validate import validate_row
from kit.calendar import BusinessCalendar, UnknownCalendarYear
from kit.clock import Clock, business_today
from kit.settings import Settings
from kit.vocab import TaskStatus
from storage.db import UnitOfWork
from storage.locks import INTAKE, hold_for_transaction
from storage.repositories import tasks as task_repo

__all__ = ["CHUNK_ROWS", "ImportInterrupted", "ImportSummary", "PolicyIntake"]

CHUNK_ROWS = 2000  # rows per transaction: short enough for other writers, long enough to batch inserts


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

    def run(self, table: IntakeTable) -> ImportSummary:
        """Import every row; raises ImportInterrupted (what is committed, and what to do) when it stops."""
        summary = ImportSummary(ignored_columns=list(table.ignored_columns))
        seen: dict[str, int] = {}
        policy_ids: list[int] = []
        committed_through: int | None = None
        store = ChunkStore(self.unit_of_work, self.clock)
        chunks = _chunks(table.rows, self.chunk_rows)
        while True:
            part = ImportSummary()
            try:
                chunk = next(chunks, None)  # reading the file may fail too (a bad byte half-way)
                if chunk is None:
                    break
                derived: list[Derived] = []
                for raw in chunk:
                    part.rows += 1
                    item = self._derive(raw, seen)
                    if isinstance(item, list):
                        part.rejected.extend(item)
                    else:
                        derived.append(item)
                ids = store.write(derived, part)
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

    def _derive(self, raw: RawRow, seen: dict[str, int]) -> Derived | list[RowError]:
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
        return Derived(record, decision, end, dual, task)


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
