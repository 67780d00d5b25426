"""The queue's filters on who handles a case and the month it was raised (cases.queue, for the CLI and the
console alike), the branch rule of assignment, and bulk assignment one case at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.service import add_user
from cases.actions import ActionRefused, NotAllowed, Refusal, StaleCase, assign, assign_many
from cases.queue import Assignee, QueueFilter, month_range, parse_month, queue, queue_count
from cases.service import NewCase, open_cases
from flows.vocab import CaseType
from huifang.cli import cli
from kit.actor import Actor, Role, operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import Settings
from storage.models import Case, Policy
from tests.factories import policy_row, write_csv
from tests.intake.test_service import make

NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)
BOSS = operator_actor("张经理")
WANG = Actor.of("王芳", [Role.BRANCH], ["110100"])
SUPERVISOR = Actor.of("张总", [Role.SUPERVISOR])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


@pytest.fixture
def cases(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock,
          calendar: BusinessCalendar) -> dict[str, int]:
    """Cases of one Beijing policy raised either side of the October/November boundary (Beijing time), and one
    of a Tianjin policy; users of both branches."""
    make(session, tmp_path, settings, clock)([
        policy_row(policy_no="BJ1"), policy_row(policy_no="TJ1", branch_code="120100", branch_name="天津分公司")])
    ids: dict[str, int] = {}
    for name, no, when in (("oct_last", "BJ1", "2026-10-31T23:59:59"), ("nov_first", "BJ1", "2026-11-01T00:00:00"),
                           ("nov_late", "BJ1", "2026-11-30T23:59:00"), ("dec", "BJ1", "2026-12-01T00:00:00"),
                           ("tianjin", "TJ1", "2026-11-10T09:00:00")):
        policy = session.scalars(select(Policy).where(Policy.policy_no == no)).one()
        open_cases(session, [NewCase(policy.id, None, policy.branch_id, CaseType.DIALECT_CASE, "language_barrier",
                                     name)], now=at(when), settings=settings.cases, calendar=calendar)
        ids[name] = session.scalars(select(Case.id).order_by(Case.id.desc())).first()  # type: ignore[assignment]
    for name, roles, branches in (("王芳", ["branch"], ["110100"]), ("刘洋", ["branch"], ["110100"]),
                                  ("李雷", ["branch"], ["120100"]), ("张总", ["supervisor"], [])):
        add_user(session, BOSS, name, "correct horse 1", roles, branches, now=NOW, settings=settings.console)
    session.flush()
    return ids


def _ids(session: Session, actor: Actor, filters: QueueFilter, now: datetime = NOW) -> set[int]:
    found = {v.id for v in queue(session, actor, now, filters)}
    assert queue_count(session, actor, now, filters) == len(found)  # the count is of the same rows
    return found


def test_the_month_is_a_beijing_month_as_a_half_open_utc_range(session: Session, cases: dict[str, int]) -> None:
    assert month_range(date(2026, 11, 1)) == (datetime(2026, 10, 31, 16, tzinfo=UTC),
                                              datetime(2026, 11, 30, 16, tzinfo=UTC))
    assert month_range(date(2026, 12, 1))[1] == datetime(2026, 12, 31, 16, tzinfo=UTC)  # into the next year
    november = _ids(session, BOSS, QueueFilter(month=date(2026, 11, 1)), now=at("2026-12-02T10:00:00"))
    assert november == {cases["nov_first"], cases["nov_late"], cases["tianjin"]}
    assert _ids(session, BOSS, QueueFilter(month=date(2026, 10, 1)), now=at("2026-12-02T10:00:00")) == {
        cases["oct_last"]}
    assert _ids(session, WANG, QueueFilter(month=date(2026, 11, 1)), now=at("2026-12-02T10:00:00")) == {
        cases["nov_first"], cases["nov_late"]}  # the scope still applies


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "11-2026", "2026/11", "", "2026-00", "2026-11-01"])
def test_a_month_that_is_not_yyyy_mm_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)
    assert parse_month(" 2026-11 ") == date(2026, 11, 1)


def test_assignee_me_unassigned_and_anyone(session: Session, cases: dict[str, int]) -> None:
    assign(session, WANG, cases["nov_first"], "王芳", now=NOW)
    assign(session, WANG, cases["nov_late"], "刘洋", now=NOW)
    everyone = _ids(session, WANG, QueueFilter())
    assert everyone == {cases["oct_last"], cases["nov_first"], cases["nov_late"], cases["dec"]}
    assert _ids(session, WANG, QueueFilter(assignee=Assignee.ANYONE)) == everyone
    assert _ids(session, WANG, QueueFilter(assignee=Assignee.ME)) == {cases["nov_first"]}
    assert _ids(session, WANG, QueueFilter(assignee=Assignee.UNASSIGNED)) == {cases["oct_last"], cases["dec"]}
    assert _ids(session, SUPERVISOR, QueueFilter(assignee=Assignee.ME)) == set()  # 张总's own: none
    both = QueueFilter(assignee=Assignee.UNASSIGNED, month=date(2026, 10, 1))
    assert _ids(session, WANG, both) == {cases["oct_last"]}
    assert both.describe() == "assignee=unassigned, month=2026-10"
    assert QueueFilter().describe() == "all"


def test_a_branch_user_assigns_within_the_branch_only(session: Session, cases: dict[str, int]) -> None:
    case_id = cases["nov_first"]
    for outsider in ("李雷", "张总", "B0001", "nobody"):  # another branch, head office, a staff code, no one
        with pytest.raises(ActionRefused, match="not a case handler of branch 110100") as refused:
            assign(session, WANG, case_id, outsider, now=NOW)
        assert (refused.value.code, refused.value.field) == (Refusal.OUTSIDE_BRANCH, "to")
    assert session.get(Case, case_id).assigned_to is None  # type: ignore[union-attr]
    outcome = assign(session, WANG, case_id, "刘洋", now=NOW)
    assert (outcome.case.assigned_to, [e.code.value for e in outcome.effects]) == ("刘洋", ["assigned"])
    assign(session, SUPERVISOR, case_id, "李雷", now=NOW)  # head office: anyone
    assign(session, BOSS, case_id, "B0001", now=NOW)  # the operator: a staff code too
    assert session.get(Case, case_id).assigned_to == "B0001"  # type: ignore[union-attr]


def test_bulk_assignment_goes_on_past_a_stale_or_refused_case(session: Session, cases: dict[str, int]) -> None:
    shown = {name: session.get(Case, i).version_id for name, i in cases.items()}  # type: ignore[union-attr]
    assign(session, BOSS, cases["nov_late"], "B0009", now=NOW)  # someone else's change since the list was shown
    session.flush()
    result = assign_many(session, SUPERVISOR, [(cases["oct_last"], shown["oct_last"]),
                                               (cases["nov_late"], shown["nov_late"]),
                                               (cases["tianjin"], shown["tianjin"]), (999999, 1)], "刘洋", now=NOW)
    assert [o.case.id for o in result.assigned] == [cases["oct_last"], cases["tianjin"]]
    assert [(i, type(e).__name__) for i, e in result.refused] == [(cases["nov_late"], "StaleCase"),
                                                                  (999999, "CaseNotFound")]
    session.expire_all()
    assert session.get(Case, cases["nov_late"]).assigned_to == "B0009"  # type: ignore[union-attr]
    assert session.get(Case, cases["tianjin"]).assigned_to == "刘洋"  # type: ignore[union-attr]
    assert isinstance(result.refused[0][1], StaleCase)
    with pytest.raises(NotAllowed, match="王芳 may not assign cases in bulk"):
        assign_many(session, WANG, [(cases["oct_last"], None)], "刘洋", now=NOW)
    with pytest.raises(ActionRefused, match="--to"):
        assign_many(session, SUPERVISOR, [(cases["oct_last"], None)], " ", now=NOW)


def test_cases_list_cli_filters_by_assignee_and_month(db_url: str, tmp_path: Path) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "李娜"}
    path = write_csv(tmp_path / "p.csv", [policy_row(applicant_phone="12345"), policy_row(applicant_phone="123")])
    assert CliRunner().invoke(cli, ["import", str(path)], env=env).exit_code == 0

    def listed(*args: str) -> list[int]:
        result = CliRunner().invoke(cli, ["cases", "list", "--json", *args], env=env)
        assert result.exit_code == 0, result.stderr
        return [c["id"] for c in json.loads(result.stdout)]

    first, second = listed()
    assert CliRunner().invoke(cli, ["cases", "assign", str(first), "--to", "李娜"], env=env).exit_code == 0
    assert listed("--assignee", "me") == [first]
    assert listed("--assignee", "unassigned") == [second]
    assert listed("--month", "2026-11") == [first, second]
    assert listed("--month", "2026-10") == []
    bad = CliRunner().invoke(cli, ["cases", "list", "--month", "2026-13"], env=env)
    assert bad.exit_code == 1
    assert "--month '2026-13': write it as YYYY-MM" in bad.stderr


def test_the_month_boundary_holds_a_second_either_side(session: Session, cases: dict[str, int]) -> None:
    """A case raised at 23:59:59 on 31 October in Beijing is 15:59:59 UTC: October, not November."""
    oct_last = session.get(Case, cases["oct_last"])
    assert oct_last is not None
    assert oct_last.created_at.astimezone(UTC) == datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)
    start, _ = month_range(date(2026, 11, 1))
    assert oct_last.created_at < start <= oct_last.created_at + timedelta(seconds=1)
