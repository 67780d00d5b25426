"""Intake against a real database (SQLite and PostgreSQL): the rules. Each file is imported two rows to a
chunk, so every rule is also checked across chunk boundaries; the chunks are savepoints inside the test's
transaction here (tests/intake/test_chunks.py commits them for real)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from intake.reader import open_table
from intake.service import ImportSummary, PolicyIntake
from kit.calendar import BusinessCalendar, YearTable
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import CallbackSettings, Settings, VariantRule
from kit.vocab import CaseStatus, ExclusionReason, QuestionnaireVariant, TaskStatus
from storage.models import Agent, Branch, CallbackTask, Case, Policy, TaskHold
from tests.factories import policy_row, write_csv


class Importer:
    def __init__(self, session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> None:
        self.session, self.tmp_path, self.settings, self.clock = session, tmp_path, settings, clock
        self.files = 0

    def __call__(self, rows: list[dict[str, str]], settings: Settings | None = None) -> ImportSummary:
        self.files += 1
        path = write_csv(self.tmp_path / f"f{self.files}.csv", rows)
        settings = settings or self.settings
        intake = PolicyIntake(self.unit_of_work, settings=settings, calendar=BusinessCalendar(settings.calendar),
                              clock=self.clock, chunk_rows=2)
        return intake.run(open_table(path))

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with self.session.begin_nested():
            yield self.session

    def policy(self, policy_no: str) -> Policy:
        return self.session.scalars(select(Policy).where(Policy.policy_no == policy_no)).one()

    def task(self, policy_no: str) -> CallbackTask | None:
        return self.session.scalars(
            select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one_or_none()

    def holds(self, policy_no: str, active: bool = True) -> list[str]:
        stmt = select(TaskHold.reason).join(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)
        if active:
            stmt = stmt.where(TaskHold.released_at.is_(None))
        return [r.value for r in self.session.scalars(stmt)]

    def cases(self, policy_no: str) -> list[Case]:
        return list(self.session.scalars(select(Case).join(Policy, Policy.id == Case.policy_id)
                                         .where(Policy.policy_no == policy_no).order_by(Case.id)))


def make(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> Importer:
    return Importer(session, tmp_path, settings, clock)


class TestImport:
    def test_new_policies_get_a_task_with_deadline_and_variant(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        summary = imp([policy_row(policy_no="P1"), policy_row(policy_no="P2", receipt_signed_date="2026-11-07",
                                                              receipt_logged_date="2026-11-08", issue_date="2026-11-05")])
        assert (summary.rows, summary.imported, summary.tasks_created, summary.rejected) == (2, 2, 2, [])
        p1 = imp.task("P1")
        assert p1 is not None
        assert (p1.status, p1.opens_on, p1.deadline, p1.questionnaire_variant) == (
            TaskStatus.QUEUED, date(2026, 11, 17), date(2026, 12, 1), QuestionnaireVariant.A)
        p2 = imp.task("P2")
        assert p2 is not None
        assert p2.deadline == date(2026, 11, 23)  # Sunday 22nd moved to Monday
        assert p2.questionnaire_variant is QuestionnaireVariant.B  # today (25th) is after the end
        assert imp.policy("P1").cooling_off_end == date(2026, 12, 1)

    def test_branches_and_agents_are_created_once(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        imp([policy_row(), policy_row()])
        imp([policy_row(agent_phone="13911119999")])
        assert session.scalars(select(Branch.code)).all() == ["110100"]
        agents = session.scalars(select(Agent)).all()
        assert [(a.code, a.phone) for a in agents] == [("A1001", "+8613911119999")]  # the latest file wins
        imp([policy_row(), policy_row(agent_name="张建军"), policy_row(agent_name="张建民", agent_phone="13911118888")])
        agent = session.scalars(select(Agent).execution_options(populate_existing=True)).one()
        assert (agent.name, agent.phone) == ("张建民", "+8613911118888")  # its last row, in the file's second chunk

    def test_excluded_policies_are_kept_with_their_reason_and_no_task(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        summary = imp([policy_row(policy_no="G1", is_group="Y"), policy_row(policy_no="Y1", policy_term_years="1"),
                       policy_row(policy_no="H1", policy_term_years="1", product_type="health", guaranteed_renewal="Y")])
        assert (summary.imported, summary.excluded, summary.tasks_created) == (3, 2, 1)
        assert imp.policy("G1").exclusion_reason is ExclusionReason.GROUP_BUSINESS
        assert imp.policy("Y1").exclusion_reason is ExclusionReason.TERM_ONE_YEAR_OR_LESS
        assert imp.task("G1") is None
        assert imp.task("Y1") is None
        assert imp.policy("H1").callback_required
        assert imp.task("H1") is not None

    def test_no_logged_receipt_no_task_until_a_reimport_brings_it(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="R1", receipt_signed_date="", receipt_logged_date="")
        assert imp([row]).tasks_created == 0
        assert imp.policy("R1").callback_required
        assert imp.policy("R1").cooling_off_end is None
        signed_only = imp([{**row, "receipt_signed_date": "2026-11-16"}])
        assert (signed_only.updated, signed_only.tasks_created) == (1, 0)
        assert imp.policy("R1").cooling_off_end == date(2026, 12, 1)
        logged = imp([{**row, "receipt_signed_date": "2026-11-16", "receipt_logged_date": "2026-11-18"}])
        assert (logged.updated, logged.tasks_created, logged.imported) == (1, 1, 0)
        task = imp.task("R1")
        assert task is not None
        assert task.opens_on == date(2026, 11, 18)

    def test_reimport_never_creates_a_second_task(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        rows = [policy_row(policy_no="D1")]
        imp(rows)
        again = imp(rows)
        assert (again.imported, again.updated, again.unchanged, again.tasks_created) == (0, 0, 1, 0)
        assert len(session.scalars(select(CallbackTask)).all()) == 1

    def test_reimport_updates_the_open_task_deadline(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="U1")
        imp([row])
        summary = imp([{**row, "cooling_off_days": "20"}])
        assert summary.updated == 1
        task = imp.task("U1")
        assert task is not None
        assert task.deadline == date(2026, 12, 7)

    def test_a_policy_corrected_to_group_cancels_its_open_task(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="C1")
        imp([row])
        imp([{**row, "is_group": "Y"}])
        task = imp.task("C1")
        assert task is not None
        assert task.status is TaskStatus.CANCELLED

    def test_bad_rows_are_reported_and_good_rows_beside_them_kept(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        summary = imp([policy_row(policy_no="OK1"), policy_row(policy_no="BAD", issue_date="2026-02-30"),
                       policy_row(policy_no="OK2")])
        assert summary.imported == 2
        assert [(e.row, e.column) for e in summary.rejected] == [(3, "issue_date")]
        assert sorted(session.scalars(select(Policy.policy_no))) == ["OK1", "OK2"]

    def test_a_policy_number_repeated_in_one_file_is_rejected(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        summary = imp([policy_row(policy_no="X1"), policy_row(policy_no="X1")])
        assert summary.imported == 1
        assert [(e.row, e.column, e.error) for e in summary.rejected] == [(3, "policy_no", "policy_no X1 repeats row 2")]
        assert summary.rejected[0].error_zh == "保单号「X1」与第 2 行重复，同一文件中每张保单只能出现一次"

    def test_dual_recording_scope_is_derived_only_when_absent(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        imp([policy_row(policy_no="B1", channel="bancassurance", bank_name="中国银行"),
             policy_row(policy_no="B2", channel="bancassurance", dual_recorded="N"),
             policy_row(policy_no="A1")])
        assert (imp.policy("B1").dual_recorded, imp.policy("B1").dual_recorded_derived) == (True, True)
        assert (imp.policy("B2").dual_recorded, imp.policy("B2").dual_recorded_derived) == (False, False)
        assert imp.policy("A1").dual_recorded is False

    def test_legacy_variant_rule(self, session, tmp_path, settings, clock) -> None:
        legacy = dataclasses.replace(settings, callback=CallbackSettings(variant_rule=VariantRule.LEGACY_DAYS_FROM_ISSUE))
        imp = make(session, tmp_path, settings, clock)
        # issued 12 Nov; planned callback is today (25 Nov) = 13 days after issue → A under the 18-day rule
        imp([policy_row(policy_no="L1", receipt_signed_date="2026-11-12", receipt_logged_date="2026-11-12")], legacy)
        task = imp.task("L1")
        assert task is not None
        assert task.questionnaire_variant is QuestionnaireVariant.A
        assert task.deadline == date(2026, 11, 27)


class TestCalendarYears:
    def test_a_deadline_in_an_unknown_year_rejects_the_row_with_the_fix(self, session, tmp_path, settings) -> None:
        clock = FrozenClock(datetime(2026, 12, 28, 10, 0, tzinfo=BUSINESS_TZ))
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="Y27", issue_date="2026-12-18", receipt_signed_date="2026-12-20",
                         receipt_logged_date="2026-12-21")
        summary = imp([row, policy_row(policy_no="OK")])
        assert summary.imported == 1
        [error] = summary.rejected
        assert error.column == "receipt_signed_date"
        assert "[calendar.years.2027]" in error.error
        assert error.error_zh == ("无法计算犹豫期截止日：业务日历缺少 2027 年的节假日数据（回执签收日期「2026-12-20」），"
                                  "请系统管理员在配置中补充 [calendar.years.2027] 后重新导入")

    def test_the_config_table_supplies_the_year(self, session, tmp_path, settings) -> None:
        clock = FrozenClock(datetime(2026, 12, 28, 10, 0, tzinfo=BUSINESS_TZ))
        with_2027 = dataclasses.replace(settings, calendar={2027: YearTable(holidays=frozenset({date(2027, 1, 4)}))})
        imp = make(session, tmp_path, with_2027, clock)
        imp([policy_row(policy_no="Y27", issue_date="2026-12-18", receipt_signed_date="2026-12-20",
                        receipt_logged_date="2026-12-21")])
        task = imp.task("Y27")
        assert task is not None
        assert task.deadline == date(2027, 1, 5)


class TestPhoneQuality:
    def test_applicant_phone_equal_to_agent_phone_holds_and_opens_a_case(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        summary = imp([policy_row(policy_no="AG", applicant_phone="139-1111-0001")])
        assert (summary.held, summary.holds_added) == (1, 1)
        task = imp.task("AG")
        assert task is not None
        assert task.status is TaskStatus.HELD
        assert imp.holds("AG") == ["duplicate_number"]
        [case] = imp.cases("AG")
        assert (case.type, case.reason, case.status) == (CaseType.VERIFICATION_CASE, "duplicate_number", CaseStatus.OPEN)
        assert "业务员电话" in case.detail
        assert case.due_at == clock.now() + timedelta(days=7)
        assert session.get(Branch, case.branch_id).code == "110100"  # type: ignore[union-attr]

    def test_the_agents_own_policy_is_not_held(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        assert imp([policy_row(policy_no="SELF", applicant_phone="13911110001", agent_is_applicant="Y")]).held == 0
        assert imp.cases("SELF") == []

    def test_three_applicants_on_one_number_across_imports_are_all_held(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        shared = "13812345678"
        first = imp([policy_row(policy_no="S1", applicant_phone=shared),
                     policy_row(policy_no="S2", applicant_phone=shared)])
        assert first.held == 0  # two applicants (a family) may share a number
        second = imp([policy_row(policy_no="S3", applicant_phone=shared)])
        assert second.holds_added == 3
        for no in ("S1", "S2", "S3"):
            assert imp.holds(no) == ["duplicate_number"]
            task = imp.task(no)
            assert task is not None
            assert task.status is TaskStatus.HELD
        assert "3位不同投保人" in imp.cases("S1")[0].detail

    def test_one_applicant_with_three_policies_on_one_number_is_not_held(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        same = policy_row()["applicant_id_no"]
        summary = imp([policy_row(applicant_phone="13812345678", applicant_id_no=same) for _ in range(3)])
        assert summary.held == 0

    def test_threshold_is_configurable(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        four = dataclasses.replace(settings, phone=dataclasses.replace(settings.phone, duplicate_applicants_threshold=4))
        assert imp([policy_row(applicant_phone="13812345678") for _ in range(3)], four).held == 0

    def test_an_invalid_number_holds_with_wrong_number(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        imp([policy_row(policy_no="W1", applicant_phone="1370000123")])
        assert imp.holds("W1") == ["wrong_number"]
        assert [c.reason for c in imp.cases("W1")] == ["wrong_number"]
        assert imp.policy("W1").applicant_phone == "1370000123"  # kept as given

    def test_a_corrected_phone_releases_the_hold_and_closes_the_case(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="W2", applicant_phone="1370000123")
        imp([row])
        summary = imp([{**row, "applicant_phone": "13700001234"}])
        assert (summary.updated, summary.holds_released, summary.held, summary.tasks_created) == (1, 1, 0, 0)
        task = imp.task("W2")
        assert task is not None
        assert task.status is TaskStatus.QUEUED
        assert imp.holds("W2") == []
        assert imp.holds("W2", active=False) == ["wrong_number"]
        [case] = imp.cases("W2")
        assert case.status is CaseStatus.CLOSED
        assert case.resolution_action == "phone_corrected"

    def test_a_task_loaded_in_the_session_sees_its_release(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="W4", applicant_phone="1370000123")
        imp([row])
        task = imp.task("W4")  # kept loaded in the session the phone rules then run in
        assert task is not None
        assert task.status is TaskStatus.HELD
        imp([{**row, "applicant_phone": "13700001234"}])
        assert task.status is TaskStatus.QUEUED

    def test_correcting_one_shared_number_releases_the_others(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        rows = [policy_row(policy_no=f"S{i}", applicant_phone="13812345678") for i in range(3)]
        imp(rows)
        summary = imp([{**rows[0], "applicant_phone": "13912345678"}])
        assert summary.holds_released == 3
        assert all(imp.holds(f"S{i}") == [] for i in range(3))

    def test_a_duplicate_import_opens_no_second_case(self, session, tmp_path, settings, clock) -> None:
        imp = make(session, tmp_path, settings, clock)
        row = policy_row(policy_no="W3", applicant_phone="12345678901")
        imp([row])
        again = imp([row])
        assert (again.holds_added, again.held) == (0, 1)
        assert len(imp.cases("W3")) == 1
