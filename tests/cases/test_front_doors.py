"""What every front door (CLI, console, API) gets from cases/: an actor's scope, stale-form refusals, actions
that are all or nothing and say what they did, and one SLA status in lists, filters and views."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from cases.actions import Action, ActionRefused, CaseNotFound, Handling, StaleCase, assign, resolve
from cases.queue import QueueFilter, queue
from cases.service import NewCase, open_cases
from cases.views import case_view
from flows.vocab import CaseType
from huifang.case_rules import CaseRules
from huifang.cli import cli
from kit.actor import Actor, NotAllowed, Role, operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from kit.vocab import SlaStatus, TaskStatus
from storage.db import make_session_factory, unit_of_work
from storage.models import CallbackTask, Case, Policy
from tasks.views import PolicyNotFound, policy_view, task_list
from tests.factories import policy_row, write_csv
from tests.intake.test_service import make

NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)
BEIJING = Actor.of("王芳", [Role.BRANCH], ["110100"])
TIANJIN = Actor.of("李雷", [Role.BRANCH], ["120100"])
COMPLIANCE = Actor.of("周敏", [Role.COMPLIANCE])
BOSS = operator_actor("张经理")


@pytest.fixture
def two_branches(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                 calendar: BusinessCalendar) -> dict[str, Case]:
    make(session, tmp_path, settings, clock)([
        policy_row(policy_no="BJ1"), policy_row(policy_no="TJ1", branch_code="120100", branch_name="天津分公司")])
    out = {}
    for no in ("BJ1", "TJ1"):
        policy = session.scalars(select(Policy).where(Policy.policy_no == no)).one()
        task = session.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, CaseType.DIALECT_CASE, "language_barrier",
                                     "方言")], now=NOW, settings=settings.cases, calendar=calendar)
        out[no] = session.scalars(select(Case).where(Case.policy_id == policy.id)).one()
    return out


def _resolve(session: Session, actor: Actor, case: Case, settings: Settings, calendar: BusinessCalendar,
             handling: Handling, **extra: object) -> object:
    return resolve(session, actor, case.id, handling, now=NOW, settings=settings, calendar=calendar,
                   rules=CaseRules(settings, calendar), **extra)  # type: ignore[arg-type]


def test_a_branch_sees_and_acts_on_its_own_branch_only(session: Session, two_branches: dict[str, Case],
                                                       settings: Settings, calendar: BusinessCalendar) -> None:
    assert [v.branch_code for v in queue(session, BEIJING, NOW)] == ["110100"]
    assert [v.branch_code for v in queue(session, TIANJIN, NOW)] == ["120100"]
    assert sorted(v.branch_code for v in queue(session, BOSS, NOW)) == ["110100", "120100"]
    # filtering on another branch shows nothing, it does not widen the scope
    assert queue(session, BEIJING, NOW, QueueFilter(branch_code="120100")) == []
    tianjin_case = two_branches["TJ1"]
    with pytest.raises(CaseNotFound, match=f"no case {tianjin_case.id}"):
        _resolve(session, BEIJING, tianjin_case, settings, calendar, Handling(Action.SURRENDERED, "x"))
    with pytest.raises(CaseNotFound):
        assign(session, BEIJING, tianjin_case.id, "B0001", now=NOW)
    with pytest.raises(PolicyNotFound, match="no policy TJ1"):
        policy_view(session, BEIJING, "TJ1", NOW)
    assert [line.policy_no for line in task_list(session, BEIJING, NOW)] == ["BJ1"]
    assert tianjin_case.status.value == "open"


def test_compliance_reads_cases_but_may_not_handle_them(session: Session, two_branches: dict[str, Case],
                                                        settings: Settings, calendar: BusinessCalendar) -> None:
    assert len(queue(session, COMPLIANCE, NOW)) == 2
    with pytest.raises(NotAllowed, match="周敏 may not handle cases"):
        _resolve(session, COMPLIANCE, two_branches["BJ1"], settings, calendar, Handling(Action.SURRENDERED, "x"))


def test_a_stale_form_is_refused_and_changes_nothing(session: Session, two_branches: dict[str, Case],
                                                     settings: Settings, calendar: BusinessCalendar) -> None:
    case = two_branches["BJ1"]
    shown = case.version_id  # the version the form was built from
    assign(session, BOSS, case.id, "B0001", now=NOW, expected_version=shown)
    with pytest.raises(StaleCase, match="changed by someone else"):
        _resolve(session, BEIJING, case, settings, calendar, Handling(Action.SURRENDERED, "退保"),
                 expected_version=shown)
    assert (case.status.value, case.assigned_to) == ("in_progress", "B0001")


def test_a_concurrent_write_is_caught_by_the_version(engine: Engine, two_branches: dict[str, Case],
                                                     session: Session, settings: Settings,
                                                     calendar: BusinessCalendar) -> None:
    """Two handlers load the same case; the second to write is told, not silently overwriting the first."""
    case_id = two_branches["BJ1"].id
    session.commit()
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as second:
        shown = second.get(Case, case_id)  # the second handler's page loads the case (and keeps it) ...
        assert shown is not None
        second.commit()
        with unit_of_work(sessions) as first:  # ... the first handler's write lands meanwhile ...
            assign(first, BOSS, case_id, "B0001", now=NOW)  # head office: staff codes (a branch user: users)
            first.commit()
        with pytest.raises(StaleCase, match="at the same time"):  # ... and the second's write is refused
            assign(second, BOSS, case_id, "B0002", now=NOW)
    with unit_of_work(sessions) as check:
        assert check.get(Case, case_id).assigned_to == "B0001"  # type: ignore[union-attr]


def test_a_refused_action_leaves_nothing_behind_even_if_the_caller_commits(
        session: Session, two_branches: dict[str, Case], settings: Settings, calendar: BusinessCalendar) -> None:
    """appointment_set re-opens the task before the booking may be refused: the savepoint takes both back."""
    case = two_branches["BJ1"]
    task = session.get(CallbackTask, case.task_id)
    assert task is not None
    task.next_attempt_at = NOW + timedelta(hours=3)
    session.flush()
    version = task.version_id
    with pytest.raises(ActionRefused, match="--at: .* is in the night"):
        _resolve(session, BEIJING, case, settings, calendar,
                 Handling(Action.APPOINTMENT_SET, appointment_at=NOW + timedelta(hours=13)))
    session.expire_all()  # what the transaction holds now is what a commit would write
    again = session.get(CallbackTask, case.task_id)
    assert again is not None
    assert (again.next_attempt_at, again.version_id) == (NOW + timedelta(hours=3), version)
    assert session.get(Case, case.id).status.value == "open"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [TaskStatus.DIALING, TaskStatus.IN_PROGRESS])
def test_a_phone_correction_while_the_call_is_live_is_refused(
        session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock, calendar: BusinessCalendar,
        status: TaskStatus) -> None:
    """Reproduced: the task was re-queued with the old lease and the next tick dialled the customer again."""
    make(session, tmp_path, settings, clock)([policy_row(policy_no="L1")])
    policy = session.scalars(select(Policy)).one()
    task = session.scalars(select(CallbackTask)).one()
    open_cases(session, [NewCase(policy.id, task.id, policy.branch_id, CaseType.VERIFICATION_CASE, "wrong_number",
                                 "号码")], now=NOW, settings=settings.cases, calendar=calendar)
    case = session.scalars(select(Case)).one()
    session.execute(update(CallbackTask).values(status=status, claimed_by="d1", claimed_at=NOW,
                                                lease_expires_at=NOW + timedelta(minutes=25)))
    session.expire_all()
    with pytest.raises(ActionRefused, match=f"the callback is {status.value.replace('_', ' ')} right now"):
        _resolve(session, BEIJING, case, settings, calendar, Handling(Action.PHONE_CORRECTED, phone="13912345678"))
    session.expire_all()
    task = session.scalars(select(CallbackTask)).one()
    assert (task.status, task.claimed_by) == (status, "d1")
    assert session.scalars(select(Policy.applicant_phone)).one() != "+8613912345678"


def test_resolutions_say_what_they_did(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
                                       calendar: BusinessCalendar) -> None:
    make(session, tmp_path, settings, clock)([policy_row(policy_no="W1", applicant_phone="12345")])
    case = session.scalars(select(Case)).one()
    outcome = _resolve(session, BEIJING, case, settings, calendar,
                       Handling(Action.PHONE_CORRECTED, "保全变更", phone="13912345678"))
    assert [str(e) for e in outcome.effects] == ["phone 12345 → +8613912345678", "callback queued again",
                                                 "case closed"]
    assert [(e.code.value, dict(e.params)) for e in outcome.effects] == [  # for front doors that translate
        ("phone_changed", {"old": "12345", "new": "+8613912345678"}), ("callback_queued", {}),
        ("case_status", {"case_status": "closed"})]
    history = [e for e in case_view(case, "110100", NOW).__dict__.items() if e[0] == "status"]
    assert history == [("status", "closed")]
    from storage.repositories import cases as case_repo

    last = case_repo.events(session, case.id)[-1]
    assert (last.who, last.action, last.note) == ("王芳", "phone_corrected", "12345 → +8613912345678; 保全变更")


def test_assigning_to_nobody_is_refused(session: Session, two_branches: dict[str, Case]) -> None:
    with pytest.raises(ActionRefused, match="--to: say who handles the case"):
        assign(session, BEIJING, two_branches["BJ1"].id, "  ", now=NOW)
    assert two_branches["BJ1"].assigned_to is None


def test_the_sla_status_shown_is_the_one_filtered_on(session: Session, two_branches: dict[str, Case],
                                                     settings: Settings) -> None:
    """Reproduced: `--sla-status overdue` returned rows displayed as warning (stored vs computed)."""
    case = two_branches["BJ1"]
    for at in (NOW, case.warn_at - timedelta(seconds=1), case.warn_at, case.due_at, case.due_at + timedelta(seconds=1)):
        shown = {v.id: v.sla_status for v in queue(session, BOSS, at)}
        for sla in SlaStatus:
            filtered = {v.id for v in queue(session, BOSS, at, QueueFilter(sla=sla))}
            assert filtered == {i for i, s in shown.items() if s == sla.value}, (at, sla)
    assert case_view(case, "110100", case.due_at + timedelta(seconds=1)).sla_status == "overdue"
    assert case_view(case, "110100", case.warn_at).sla_status == "warning"


def test_the_cli_prints_effects_and_names_the_case_once(db_url: str, tmp_path: Path) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "李娜"}
    path = write_csv(tmp_path / "p.csv", [policy_row(applicant_phone="12345")])
    assert CliRunner().invoke(cli, ["import", str(path)], env=env).exit_code == 0
    case_id = json.loads(CliRunner().invoke(cli, ["cases", "list", "--json"], env=env).stdout)[0]["id"]
    done = CliRunner().invoke(cli, ["cases", "resolve", str(case_id), "--action", "phone_corrected", "--phone",
                                    "13912345678"], env=env)
    assert done.exit_code == 0, done.stderr
    assert "done: phone 12345 → +8613912345678\ndone: callback queued again\ndone: case closed" in done.stdout
    again = CliRunner().invoke(cli, ["cases", "resolve", str(case_id), "--action", "phone_corrected", "--phone",
                                     "13912345678"], env=env)
    assert again.exit_code == 1
    assert again.stderr.strip() == f"Error: case {case_id}: the case is closed: nothing more can be done with it"
    stale = CliRunner().invoke(cli, ["cases", "assign", str(case_id), "--to", "B1", "--version", "1"], env=env)
    assert "changed by someone else" in stale.stderr
    nobody = CliRunner().invoke(cli, ["cases", "assign", str(case_id), "--to", ""], env=env)
    assert "--to: say who handles the case" in nobody.stderr
