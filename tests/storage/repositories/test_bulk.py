"""Set-sized repository work (storage.repositories.bulk): PostgreSQL's own forms (one bound array, COPY) find and
store exactly what the portable forms (IN lists, an executemany) find and store, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from flows.vocab import CaseType
from kit.clock import BUSINESS_TZ
from kit.vocab import (
    CaseStatus,
    Channel,
    ExclusionReason,
    Gender,
    PaymentFrequency,
    ProductType,
    QuestionnaireVariant,
    SlaStatus,
    TaskStatus,
)
from storage.db import connection_lost
from storage.models import Branch, CallbackTask, Case, Policy
from storage.repositories import bulk
from storage.repositories import cases as case_repo
from storage.repositories import org as org_repo
from storage.repositories import policies as policy_repo
from storage.repositories import tasks as task_repo

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)  # 02:00 UTC: stored and read back as that instant


def org(session: Session) -> tuple[int, int]:
    branch_id = org_repo.insert_branches(session, {"110100": "北京分公司"}, NOW)["110100"]
    agent_id = org_repo.insert_agents(session, [{"code": "A1", "name": "王强", "phone": "+8613900000000",
                                                 "branch_id": branch_id, "created_at": NOW}])["A1"]
    return branch_id, agent_id


def policy(policy_no: str, branch_id: int, agent_id: int, **overrides: Any) -> dict[str, Any]:
    """Every column intake gives a new policy, with values of each kind: enumerations whose names differ from
    their values (Gender.FEMALE is stored as F), a Decimal, dates, None, booleans, instants, and text a COPY must
    escape (a tab, a backslash, a line break, a literal \\N) or keep apart from NULL (an empty string)."""
    return {
        "policy_no": policy_no, "product_code": "T101", "product_name": "鑫福年年终身寿险",
        "product_type": ProductType.INVESTMENT_LINKED, "channel": Channel.BANCASSURANCE, "policy_term_years": None,
        "guaranteed_renewal": False, "is_group": False, "premium": Decimal("6000.05"),
        "payment_frequency": PaymentFrequency.SEMIANNUAL, "payment_years": 10, "issue_date": date(2026, 11, 12),
        "receipt_signed_date": date(2026, 11, 16), "receipt_logged_date": None, "cooling_off_days": 15,
        "cooling_off_end": date(2026, 12, 1), "applicant_name": "赵敏\t“引号”\\\n\\N", "applicant_gender": Gender.FEMALE,
        "applicant_birth_date": date(1980, 5, 17), "applicant_id_no": "110105198005170026",
        "applicant_phone": "+8613800000000", "applicant_phone_valid": True, "applicant_phone2": None,
        "insured_name": "", "insured_is_applicant": True, "agent_id": agent_id, "agent_is_applicant": False,
        "branch_id": branch_id, "bank_name": None, "dual_recorded": True, "dual_recorded_derived": True,
        "callback_required": False, "exclusion_reason": ExclusionReason.GROUP_BUSINESS,
        "created_at": NOW, "updated_at": NOW,
    } | overrides


def task(policy_id: int) -> dict[str, Any]:
    return {"policy_id": policy_id, "opens_on": date(2026, 11, 17), "deadline": date(2026, 12, 1),
            "questionnaire_variant": QuestionnaireVariant.B, "status": TaskStatus.HELD, "attempts": 0,
            "reason_codes": [], "created_at": NOW, "updated_at": NOW}


def stored(session: Session, table: str, key: str, value: object) -> dict[str, Any]:
    """A row as the database holds it, without SQLAlchemy's types (an enumeration stored by name, an instant
    in another zone would show here), but for its id."""
    row = session.execute(text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value}).mappings().one()
    return {k: v for k, v in row.items() if k != "id"}


class TestMatching:
    def test_several_batches_find_what_one_in_list_finds(self, session: Session,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(bulk, "ARRAY_CHUNK", 10)
        monkeypatch.setattr(bulk, "IN_CHUNK", 10)
        org_repo.insert_branches(session, {f"B{i:02d}": f"分公司{i}" for i in range(25)}, NOW)
        codes = [f"B{i:02d}" for i in range(0, 30, 2)] + ["B03", "B03", "nope"]  # 18 values: two batches
        assert len(list(bulk.matching(session, Branch.code, codes))) == 2
        expected = dict(session.execute(select(Branch.code, Branch.id).where(Branch.code.in_(codes))).all())
        assert len(expected) == 14
        assert org_repo.branch_ids(session, codes) == expected

    def test_a_longer_value_finds_nothing(self, session: Session) -> None:
        code = "B" * 32  # branches.code is VARCHAR(32)
        org_repo.insert_branches(session, {code: "分公司"}, NOW)
        assert org_repo.branch_ids(session, [code + "X"]) == {}
        assert list(org_repo.branch_ids(session, [code, code + "X"])) == [code]

    def test_no_values_no_query(self, session: Session) -> None:
        org(session)
        assert list(bulk.matching(session, Branch.code, [])) == []
        assert org_repo.branch_ids(session, []) == {}
        assert org_repo.agents_by_code(session, []) == {}
        assert policy_repo.by_numbers(session, []) == {}
        assert task_repo.count_with_status(session, [], TaskStatus.HELD) == 0

    def test_the_queries_of_an_import_over_several_batches(self, session: Session,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(bulk, "ARRAY_CHUNK", 3)
        monkeypatch.setattr(bulk, "IN_CHUNK", 3)
        branch_id, agent_id = org(session)
        ids = policy_repo.insert_many(session, [policy(f"P{i}", branch_id, agent_id) for i in range(7)])
        assert sorted(ids) == [f"P{i}" for i in range(7)]
        assert set(policy_repo.by_numbers(session, ["P0", "P6", "P9", "P3"])) == {"P0", "P3", "P6"}
        task_repo.insert_many(session, [task(ids[f"P{i}"]) for i in range(5)])
        assert set(task_repo.by_policy_ids(session, list(ids.values()))) == {ids[f"P{i}"] for i in range(5)}
        assert task_repo.count_with_status(session, list(ids.values()), TaskStatus.HELD) == 5
        assert task_repo.count_with_status(session, list(ids.values()), TaskStatus.QUEUED) == 0
        assert org_repo.agents_by_code(session, ["A1", "A2"]) == {
            "A1": org_repo.AgentFacts(agent_id, "王强", "+8613900000000")}


class TestInsertRows:
    def test_stores_what_an_insert_statement_stores(self, session: Session) -> None:
        branch_id, agent_id = org(session)
        ids = policy_repo.insert_many(session, [policy("P1", branch_id, agent_id),
                                                policy("P2", branch_id, agent_id, receipt_logged_date=date(2026, 11, 17),
                                                       exclusion_reason=None, bank_name="工商银行")])
        session.connection().execute(insert(Policy.__table__), [policy("R1", branch_id, agent_id)])  # type: ignore[arg-type]
        assert stored(session, "policies", "policy_no", "P1") | {"policy_no": "R1"} == \
            stored(session, "policies", "policy_no", "R1")
        assert task_repo.insert_many(session, [task(ids["P1"])]) == 1
        session.connection().execute(insert(CallbackTask.__table__), [task(ids["P2"])])  # type: ignore[arg-type]
        assert stored(session, "callback_tasks", "policy_id", ids["P1"]) | {"policy_id": ids["P2"]} == \
            stored(session, "callback_tasks", "policy_id", ids["P2"])

    def test_reads_back_as_given(self, session: Session) -> None:
        branch_id, agent_id = org(session)
        row = policy("P1", branch_id, agent_id)
        ids = policy_repo.insert_many(session, [row])
        task_repo.insert_many(session, [task(ids["P1"])])
        found = session.scalars(select(Policy).where(Policy.policy_no == "P1")).one()
        assert {key: getattr(found, key) for key in row} == row
        assert found.applicant_gender is Gender.FEMALE
        assert found.created_at == NOW
        assert found.created_at.utcoffset() == UTC.utcoffset(None)
        created = session.scalars(select(CallbackTask).where(CallbackTask.policy_id == ids["P1"])).one()
        assert (created.version_id, created.reason_codes, created.status) == (1, [], TaskStatus.HELD)  # constant default

    def test_a_default_computed_per_row_must_be_given(self, session: Session) -> None:
        branch_id, agent_id = org(session)
        ids = policy_repo.insert_many(session, [policy("P1", branch_id, agent_id)])
        without = {k: v for k, v in task(ids["P1"]).items() if k != "reason_codes"}  # default=list
        with pytest.raises(ValueError, match="callback_tasks.reason_codes"):
            task_repo.insert_many(session, [without])

    def test_a_duplicate_raises_integrity_error(self, session: Session) -> None:
        branch_id, agent_id = org(session)
        policy_repo.insert_many(session, [policy("P1", branch_id, agent_id)])
        with pytest.raises(IntegrityError):
            policy_repo.insert_many(session, [policy("P2", branch_id, agent_id), policy("P1", branch_id, agent_id)])
        session.rollback()

    def test_a_connection_lost_under_copy_is_reported_lost(self, session: Session, engine: Engine,
                                                           backend: str) -> None:
        if backend != "postgresql":
            pytest.skip("a server to lose: SQLite runs in the process")
        branch_id, agent_id = org(session)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            policy_repo.insert_many(session, [policy("P1", branch_id, agent_id)])
        assert connection_lost(caught.value)
        session.rollback()


def test_case_ids_come_back_in_the_order_of_the_rows(session: Session) -> None:
    branch_id, agent_id = org(session)
    ids = policy_repo.insert_many(session, [policy(f"P{i}", branch_id, agent_id) for i in range(12)])
    rows: list[dict[str, object]] = [
        {"policy_id": ids[f"P{i}"], "task_id": None, "branch_id": branch_id, "call_id": None,
         "type": CaseType.VERIFICATION_CASE, "reason": "duplicate_number", "status": CaseStatus.OPEN,
         "detail": f"第{i}件", "due_at": NOW, "warn_at": NOW, "sla_status": SlaStatus.NORMAL, "created_at": NOW,
         "updated_at": NOW}
        for i in (5, 0, 11, 3, 7, 1, 9, 2, 10, 4, 8, 6)
    ]
    case_ids = case_repo.insert_many(session, rows)
    assert len(set(case_ids)) == 12
    found = {c.id: (c.policy_id, c.detail) for c in session.scalars(select(Case))}
    assert [found[i] for i in case_ids] == [(r["policy_id"], r["detail"]) for r in rows]
    assert case_repo.insert_many(session, []) == []
