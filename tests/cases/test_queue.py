"""The problem-case queue: SLA sweep on a frozen clock, processing order, and the CLI (docs/interfaces.md)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.queue import month_starts
from cases.service import NewCase, close_case_ids, open_cases, sweep
from flows.vocab import CaseType
from huifang.cli import cli
from kit.actor import SYSTEM, Actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import SlaStatus
from storage.models import Case, CaseEvent, Policy
from storage.repositories import cases as case_repo
from tests.factories import policy_row
from tests.intake.test_service import make


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


def _policy(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> Policy:
    make(session, tmp_path, settings, clock)([policy_row(policy_no="Q1")])
    return session.scalars(select(Policy)).one()


def _open(session: Session, policy: Policy, kind: CaseType, when: datetime, settings: Settings,
          calendar: BusinessCalendar, reason: str = "r") -> Case:
    open_cases(session, [NewCase(policy.id, None, policy.branch_id, kind, reason, f"{kind} {when}")], now=when,
               settings=settings.cases, calendar=calendar)
    return session.scalars(select(Case).order_by(Case.id.desc())).first()  # type: ignore[return-value]


def test_the_sweep_moves_normal_to_warning_to_overdue_and_records_it(session: Session, tmp_path: Path,
                                                                     settings: Settings, clock: FrozenClock,
                                                                     calendar: BusinessCalendar) -> None:
    policy = _policy(session, tmp_path, settings, clock)
    case = _open(session, policy, CaseType.VERIFICATION_CASE, at("2026-11-25T10:00:00"), settings, calendar)
    assert case.due_at == at("2026-12-02T10:00:00")  # 7 natural days
    assert sweep(session, now=at("2026-11-27T10:00:00"), settings=settings.cases)["warning"] == 0
    assert sweep(session, now=at("2026-11-30T10:00:00"), settings=settings.cases)["warning"] == 1  # 2 days left
    assert sweep(session, now=at("2026-12-01T10:00:00"), settings=settings.cases) == {
        "normal": 0, "warning": 0, "overdue": 0}  # no change, nothing recorded
    assert sweep(session, now=at("2026-12-02T10:00:01"), settings=settings.cases)["overdue"] == 1
    assert case.sla_status is SlaStatus.OVERDUE
    history = [e.action for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                                 .order_by(CaseEvent.id))]
    assert history == ["opened", "sla_warning", "sla_overdue"]


def test_a_case_another_sweep_moved_meanwhile_is_not_moved_or_recorded_again(
        session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock, calendar: BusinessCalendar) -> None:
    policy = _policy(session, tmp_path, settings, clock)
    case = _open(session, policy, CaseType.VERIFICATION_CASE, at("2026-11-25T10:00:00"), settings, calendar)
    when = at("2026-11-30T10:00:00")
    # two sweeps both read the case as normal; the first moves it, the second finds it moved
    assert case_repo.move_sla(session, [case.id], SlaStatus.NORMAL, SlaStatus.WARNING, now=when) == [case.id]
    assert case_repo.move_sla(session, [case.id], SlaStatus.NORMAL, SlaStatus.WARNING, now=when) == []
    # the session's copy is kept in step; the version is not bumped (no form is made stale by the clock)
    assert (case.sla_status, case.version_id) == (SlaStatus.WARNING, 1)
    assert sweep(session, now=when, settings=settings.cases)["warning"] == 0


def test_a_working_day_sla_runs_past_national_day(session: Session, tmp_path: Path, settings: Settings,
                                                   clock: FrozenClock, calendar: BusinessCalendar) -> None:
    policy = _policy(session, tmp_path, settings, clock)
    case = _open(session, policy, CaseType.MIS_SELLING_CASE, at("2026-09-28T10:00:00"), settings, calendar)
    # 15 working days from 09-28 (Monday): the National Day week off does not count, its make-up days do
    assert case.due_at.astimezone(BUSINESS_TZ).date().isoformat() == "2026-10-23"
    assert sweep(session, now=at("2026-10-08T10:00:00"), settings=settings.cases)["warning"] == 0
    assert sweep(session, now=at("2026-10-24T10:00:00"), settings=settings.cases)["overdue"] == 1


def test_closed_cases_are_left_alone(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                                     calendar: BusinessCalendar) -> None:
    policy = _policy(session, tmp_path, settings, clock)
    case = _open(session, policy, CaseType.VERIFICATION_CASE, at("2026-11-25T10:00:00"), settings, calendar)
    close_case_ids(session, [case.id], now=at("2026-11-26T10:00:00"), action="done", note="")
    session.expire_all()
    assert sweep(session, now=at("2026-12-30T10:00:00"), settings=settings.cases)["overdue"] == 0


def test_the_queue_order(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                         calendar: BusinessCalendar) -> None:
    policy = _policy(session, tmp_path, settings, clock)
    older = _open(session, policy, CaseType.FIRST_EXPLANATION_CASE, at("2026-08-20T10:00:00"), settings, calendar)
    before_last = _open(session, policy, CaseType.PROXY_SIGNATURE_CASE, at("2026-09-10T10:00:00"), settings, calendar)
    last_late = _open(session, policy, CaseType.FIRST_EXPLANATION_CASE, at("2026-10-30T10:00:00"), settings, calendar)
    last_early = _open(session, policy, CaseType.FIRST_EXPLANATION_CASE, at("2026-10-02T10:00:00"), settings, calendar)
    verification = _open(session, policy, CaseType.VERIFICATION_CASE, at("2026-11-20T10:00:00"), settings, calendar)
    now = at("2026-11-25T10:00:00")
    order = [c.id for c, _ in case_repo.queue(session, SYSTEM, now=now, month_starts=month_starts(now))]
    assert order == [verification.id, last_early.id, last_late.id, before_last.id, older.id]
    assert month_starts(at("2026-01-15T10:00:00")) == (at("2025-12-01T00:00:00"), at("2025-11-01T00:00:00"))


def test_a_page_of_the_queue_is_that_slice_of_the_processing_order(session: Session, tmp_path: Path,
                                                                   settings: Settings, clock: FrozenClock,
                                                                   calendar: BusinessCalendar) -> None:
    """A page is read in two steps (its ids in order, then their rows): the same cases, in the same order; the
    counts beside it are scoped like it."""
    policy = _policy(session, tmp_path, settings, clock)
    for kind, when in ((CaseType.FIRST_EXPLANATION_CASE, "2026-08-20"), (CaseType.PROXY_SIGNATURE_CASE, "2026-09-10"),
                       (CaseType.FIRST_EXPLANATION_CASE, "2026-10-30"), (CaseType.VERIFICATION_CASE, "2026-11-21"),
                       (CaseType.FIRST_EXPLANATION_CASE, "2026-10-02"), (CaseType.VERIFICATION_CASE, "2026-11-20")):
        _open(session, policy, kind, at(f"{when}T10:00:00"), settings, calendar)
    closed = _open(session, policy, CaseType.VERIFICATION_CASE, at("2026-11-19T10:00:00"), settings, calendar)
    close_case_ids(session, [closed.id], now=at("2026-11-20T10:00:00"), action="done", note="")
    now = at("2026-11-25T10:00:00")
    branch = Actor.of("王芳", ["branch"], [policy_row()["branch_code"]])
    for actor, kind in ((SYSTEM, None), (branch, None), (branch, CaseType.FIRST_EXPLANATION_CASE)):
        whole = [(c.id, code) for c, code in case_repo.queue(session, actor, now=now, month_starts=month_starts(now),
                                                              case_type=kind)]
        assert closed.id not in [i for i, _ in whole]
        pages = [[(c.id, code) for c, code in case_repo.queue(session, actor, now=now, month_starts=month_starts(now),
                                                              case_type=kind, limit=2, offset=offset)]
                 for offset in range(0, 8, 2)]
        assert [row for page in pages for row in page] == whole
        assert all(len(page) <= 2 for page in pages)
    # the SLA counts over the queue: open cases only, in the actor's branches only
    assert sum(case_repo.sla_counts(session, SYSTEM, now=now).values()) == 6
    assert sum(case_repo.sla_counts(session, branch, now=now).values()) == 6
    elsewhere = Actor.of("李四", ["branch"], ["120100"])
    assert case_repo.sla_counts(session, elsewhere, now=now) == {"normal": 0, "warning": 0, "overdue": 0}


def test_cases_cli(db_url: str, tmp_path: Path) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00"}
    rows = [policy_row(applicant_phone="12345")]  # an invalid number: a verification case at intake
    from tests.factories import write_csv

    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", rows))], env=env).exit_code == 0
    listed = json.loads(CliRunner().invoke(cli, ["cases", "list", "--json"], env=env).stdout)
    assert [(c["type"], c["reason"], c["sla_status"]) for c in listed] == [("verification_case", "wrong_number",
                                                                           "normal")]
    later = {**env, "HUIFANG_NOW": "2026-12-03T10:00:00+08:00"}
    swept = json.loads(CliRunner().invoke(cli, ["cases", "sweep", "--json"], env=later).stdout)
    assert swept == {"changed": {"normal": 0, "warning": 0, "overdue": 1}}
    overdue = json.loads(CliRunner().invoke(cli, ["cases", "list", "--sla-status", "overdue", "--json"],
                                            env=later).stdout)
    assert len(overdue) == 1
    shown = json.loads(CliRunner().invoke(cli, ["cases", "show", str(overdue[0]["id"]), "--json"], env=later).stdout)
    assert [h["action"] for h in shown["history"]] == ["opened", "sla_overdue"]
    missing = CliRunner().invoke(cli, ["cases", "show", "999"], env=env)
    assert missing.exit_code == 1
    assert "no case 999" in missing.stderr


def test_cases_resolve_and_assign_cli(db_url: str, tmp_path: Path) -> None:
    from tests.factories import write_csv

    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "李娜"}
    rows = [policy_row(applicant_phone="12345")]
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", rows))], env=env).exit_code == 0
    case_id = json.loads(CliRunner().invoke(cli, ["cases", "list", "--json"], env=env).stdout)[0]["id"]
    assigned = CliRunner().invoke(cli, ["cases", "assign", str(case_id), "--to", "B0007", "--json"], env=env)
    assert json.loads(assigned.stdout)["assigned_to"] == "B0007"
    refused = CliRunner().invoke(cli, ["cases", "resolve", str(case_id), "--action", "phone_corrected"], env=env)
    assert refused.exit_code == 1
    assert f"case {case_id}: --phone: the corrected number is required" in refused.stderr
    done = CliRunner().invoke(cli, ["cases", "resolve", str(case_id), "--action", "phone_corrected", "--phone",
                                    "13912345678", "--note", "保全变更", "--json"], env=env)
    assert done.exit_code == 0, done.stderr
    view = json.loads(done.stdout)
    assert (view["status"], view["resolution_action"]) == ("closed", "phone_corrected")
    assert [(h["who"], h["action"]) for h in view["history"]][-2:] == [("李娜", "assigned"), ("李娜", "phone_corrected")]
