"""Console accounts: hashing, roles and branches checked, wrong passwords counted and locked out, audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.service import REFUSED, AccountError, add_user, disable, enable, set_password, sign_in
from huifang.cli import cli
from kit.actor import Actor, NotAllowed, Role, operator_actor
from kit.clock import BUSINESS_TZ, FrozenClock
from kit.settings import ConsoleSettings, Settings
from storage.models import AuditEvent, User
from tests.factories import policy_row, write_csv
from tests.intake.test_service import make

NOW = datetime(2026, 11, 25, 10, tzinfo=BUSINESS_TZ)
ADMIN = operator_actor("root")
RULES = ConsoleSettings()


@pytest.fixture
def branch(session: Session, tmp_path: Path, settings: Settings, clock: FrozenClock) -> str:
    make(session, tmp_path, settings, clock)([policy_row(policy_no="U1")])
    return "110100"


def _audit(session: Session) -> list[tuple[str, str]]:
    return [(a.action, a.operator) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_user_signs_in_as_an_actor_with_their_roles_and_branches(session: Session, branch: str) -> None:
    user = add_user(session, ADMIN, "王芳", "correct horse 1", ["branch"], [branch], now=NOW, settings=RULES)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse 1" not in user.password_hash
    result = sign_in(session, "王芳", "correct horse 1", now=NOW, settings=RULES)
    assert result.actor == Actor.of("王芳", [Role.BRANCH], [branch])
    assert result.actor is not None
    assert result.actor.branch_codes == frozenset({branch})
    assert user.last_login_at == NOW
    assert _audit(session) == [("user_added", "root"), ("login", "王芳")]


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(session: Session, branch: str) -> None:
    add_user(session, ADMIN, "王芳", "correct horse 1", ["branch"], [branch], now=NOW, settings=RULES)
    for n in range(4):
        assert sign_in(session, "王芳", f"wrong {n}", now=NOW, settings=RULES).refusal == REFUSED
    assert sign_in(session, "王芳", "wrong 4", now=NOW, settings=RULES).refusal == REFUSED
    locked = sign_in(session, "王芳", "correct horse 1", now=NOW + timedelta(minutes=14), settings=RULES)
    assert (locked.actor, locked.refusal) == (None, "连续输错密码次数过多，账号已锁定，请 1 分钟后再试")
    assert sign_in(session, "王芳", "correct horse 1", now=NOW + timedelta(minutes=15), settings=RULES).actor
    actions = [a for a, _ in _audit(session)]
    assert actions == ["user_added", *["login_failed"] * 4, "account_locked", "login_failed", "login"]


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(session: Session, branch: str) -> None:
    add_user(session, ADMIN, "王芳", "correct horse 1", ["branch"], [branch], now=NOW, settings=RULES)
    assert sign_in(session, "nobody", "x", now=NOW, settings=RULES).refusal == \
        sign_in(session, "王芳", "x", now=NOW, settings=RULES).refusal == REFUSED


def test_a_disabled_account_cannot_sign_in_and_a_new_password_lifts_a_lock(session: Session, branch: str) -> None:
    add_user(session, ADMIN, "王芳", "correct horse 1", ["branch"], [branch], now=NOW, settings=RULES)
    for n in range(5):
        sign_in(session, "王芳", f"wrong {n}", now=NOW, settings=RULES)
    set_password(session, ADMIN, "王芳", "another horse 2", now=NOW, settings=RULES)
    assert sign_in(session, "王芳", "another horse 2", now=NOW, settings=RULES).actor is not None
    disable(session, ADMIN, "王芳", now=NOW)
    assert sign_in(session, "王芳", "another horse 2", now=NOW, settings=RULES).refusal == "账号已停用，请联系管理员"


def test_an_enabled_account_signs_in_again_with_its_new_password_only(session: Session, branch: str) -> None:
    user = add_user(session, ADMIN, "王芳", "correct horse 1", ["branch"], [branch], now=NOW, settings=RULES)
    with pytest.raises(AccountError, match="user 王芳 is not disabled"):
        enable(session, ADMIN, "王芳", "new horse 3!", now=NOW, settings=RULES)
    disable(session, ADMIN, "王芳", now=NOW)
    later = NOW + timedelta(days=3)
    with pytest.raises(AccountError, match="at least 10 characters"):
        enable(session, ADMIN, "王芳", "short", now=later, settings=RULES)
    assert user.disabled
    enable(session, ADMIN, "王芳", "new horse 3!", now=later, settings=RULES)
    assert (user.disabled, user.password_changed_at) == (False, later)  # sessions from before stay ended
    assert sign_in(session, "王芳", "correct horse 1", now=later, settings=RULES).refusal == REFUSED
    assert sign_in(session, "王芳", "new horse 3!", now=later, settings=RULES).actor is not None
    with pytest.raises(NotAllowed):
        enable(session, Actor.of("周敏", [Role.COMPLIANCE]), "王芳", "new horse 4!", now=later, settings=RULES)
    assert [a for a, _ in _audit(session)][-4:] == ["password_set", "user_enabled", "login_failed", "login"]


@pytest.mark.parametrize(("roles", "branches", "password", "message"), [
    ([], [], "long enough 1", "--role: give at least one role"),
    (["boss"], [], "long enough 1", "--role 'boss': not a role"),
    (["branch"], [], "long enough 1", "--branch: a branch user needs the branches"),
    (["branch"], ["999999"], "long enough 1", "--branch '999999': no such branch"),
    (["supervisor"], [], "short", "at least 10 characters"),
])
def test_bad_accounts_are_refused_naming_the_option(session: Session, branch: str, roles: list[str],
                                                    branches: list[str], password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        add_user(session, ADMIN, "新人", password, roles, branches, now=NOW, settings=RULES)
    assert session.scalars(select(User)).all() == []


def test_only_admins_manage_users(session: Session, branch: str) -> None:
    with pytest.raises(NotAllowed, match="周敏 may not manage users"):
        add_user(session, Actor.of("周敏", [Role.COMPLIANCE]), "x", "long enough 1", ["qa"], [], now=NOW,
                 settings=RULES)


def test_users_cli(db_url: str, tmp_path: Path) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "root"}
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [policy_row()]))], env=env).exit_code == 0
    added = CliRunner().invoke(cli, ["users", "add", "王芳", "--role", "branch", "--branch", "110100",
                                     "--password-stdin", "--json"], input="correct horse 1\n", env=env)
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout) == {"name": "王芳", "roles": ["branch"], "branches": ["110100"],
                                        "agent_line": None, "disabled": False, "locked_until": None,
                                        "last_login_at": None}
    short = CliRunner().invoke(cli, ["users", "set-password", "王芳", "--password-stdin"], input="abc\n", env=env)
    assert (short.exit_code, short.stderr.strip()) == (1, "Error: the password must be at least 10 characters long")
    assert CliRunner().invoke(cli, ["users", "disable", "王芳"], env=env).stdout == "王芳: disabled\n"
    listed = json.loads(CliRunner().invoke(cli, ["users", "list", "--json"], env=env).stdout)
    assert [(u["name"], u["disabled"]) for u in listed] == [("王芳", True)]
    enabled = CliRunner().invoke(cli, ["users", "enable", "王芳", "--password-stdin"], input="batter staple 2\n", env=env)
    assert (enabled.exit_code, enabled.stdout) == (0, "王芳: enabled\n")
    again = CliRunner().invoke(cli, ["users", "enable", "王芳", "--password-stdin"], input="batter staple 3\n", env=env)
    assert (again.exit_code, again.stderr.strip()) == (1, "Error: user 王芳 is not disabled")
    assert "correct horse" not in CliRunner().invoke(cli, ["audit", "list", "--json"], env=env).stdout


def test_an_agent_account_is_linked_to_the_line_hand_offs_ring(db_url: str, tmp_path: Path) -> None:
    env = {"HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": "2026-11-25T10:00:00+08:00", "HUIFANG_OPERATOR": "root"}
    assert CliRunner().invoke(cli, ["import", str(write_csv(tmp_path / "p.csv", [policy_row()]))], env=env).exit_code == 0
    added = CliRunner().invoke(cli, ["users", "add", "李客服", "--role", "agent", "--branch", "110100",
                                     "--agent-line", " +861088880000 ", "--password-stdin", "--json"],
                               input="correct horse 1\n", env=env)
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["agent_line"] == "+861088880000"
    moved = CliRunner().invoke(cli, ["users", "set-agent-line", "李客服", "client:li"], env=env)
    assert moved.stdout == "李客服: agent line client:li\n"
    not_agent = CliRunner().invoke(cli, ["users", "add", "王芳", "--role", "branch", "--branch", "110100",
                                         "--agent-line", "+861088880000", "--password-stdin"],
                                   input="correct horse 1\n", env=env)
    assert (not_agent.exit_code, not_agent.stderr.strip()) == (
        1, "Error: --agent-line: only an agent account has an agent line")
    unlinked = CliRunner().invoke(cli, ["users", "set-agent-line", "李客服"], env=env)
    assert unlinked.stdout == "李客服: agent line none\n"
    listed = json.loads(CliRunner().invoke(cli, ["users", "list", "--json"], env=env).stdout)
    assert [(u["name"], u["agent_line"]) for u in listed] == [("李客服", None)]
    audit = CliRunner().invoke(cli, ["audit", "list", "--json"], env=env).stdout
    assert "agent_line_set" in audit
