"""Console accounts: who may sign in, with which roles and branches; passwords hashed with argon2id; wrong
passwords counted and an account locked after `console.max_failed_logins` in a row, for
`console.lockout_minutes`. Every failure, lock and account change is written to the audit trail. Services
flush; the caller commits (a failed login's count and audit line are committed too: the caller does so
before it answers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.actor import ALL_BRANCH_ROLES, Actor, Role
from kit.settings import ConsoleSettings
from storage.models import AuditEvent, Branch, User

HASHER = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106 low-memory profile)
ROLES = tuple(r.value for r in Role if r not in (Role.OPERATOR, Role.SYSTEM))  # what a person can be given
BRANCH_BOUND = frozenset({Role.BRANCH, Role.AGENT})  # roles that see only their listed branches
AGENT_LINE_MAX = 128


class AccountError(ValueError):
    """A request about an account that the rules refuse; the message names the option or the reason."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the actor on success, else why not (in words a person can read)."""

    actor: Actor | None
    refusal: str = ""


def _audit(session: Session, who: str, action: str, target: str, now: datetime, detail: str = "") -> None:
    session.add(AuditEvent(at=now, operator=who, action=action, target=target[:255], reason="", detail=detail))


def _check_password(password: str, settings: ConsoleSettings) -> None:
    if len(password) < settings.min_password_length:
        raise AccountError(f"the password must be at least {settings.min_password_length} characters long")


def _check_roles(session: Session, roles: list[str], branches: list[str]) -> None:
    if not roles:
        raise AccountError("--role: give at least one role")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise AccountError(f"--role {unknown[0]!r}: not a role (one of {', '.join(ROLES)})")
    bound = [r for r in roles if Role(r) in BRANCH_BOUND]
    sees_all = any(Role(r) in ALL_BRANCH_ROLES for r in roles)
    if bound and not branches and not sees_all:
        raise AccountError(f"--branch: a {bound[0]} user needs the branches whose data they handle")
    known = set(session.scalars(select(Branch.code).where(Branch.code.in_(branches)))) if branches else set()
    missing = [b for b in branches if b not in known]
    if missing:
        raise AccountError(f"--branch {missing[0]!r}: no such branch (branches come with imported policies)")


def by_name(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).one_or_none()


def _check_agent_line(roles: list[str], line: str | None) -> str | None:
    """An agent's line as the hand-off dials it (ivr.agent_target, exactly); only agents have one."""
    line = (line or "").strip() or None
    if line is not None and Role.AGENT.value not in roles:
        raise AccountError("--agent-line: only an agent account has an agent line")
    if line is not None and len(line) > AGENT_LINE_MAX:
        raise AccountError(f"--agent-line: at most {AGENT_LINE_MAX} characters")
    return line


def add_user(session: Session, actor: Actor, name: str, password: str, roles: list[str], branches: list[str], *,
             now: datetime, settings: ConsoleSettings, agent_line: str | None = None) -> User:
    actor.require({Role.ADMIN, Role.OPERATOR}, "manage users")
    name = name.strip()
    if not name:
        raise AccountError("NAME: a user needs a name")
    if by_name(session, name) is not None:
        raise AccountError(f"user {name} exists already (users set-password / users disable change it)")
    _check_roles(session, roles, branches)
    _check_password(password, settings)
    line = _check_agent_line(roles, agent_line)
    user = User(name=name, password_hash=HASHER.hash(password), roles=sorted(set(roles)),
                branches=sorted(set(branches)), disabled=False, failed_logins=0, locked_until=None,
                password_changed_at=now, last_login_at=None, created_at=now, updated_at=now, agent_line=line)
    session.add(user)
    _audit(session, actor.user, "user_added", name, now, f"roles {','.join(user.roles)}; "
                                                          f"branches {','.join(user.branches) or 'all'}"
                                                          + (f"; agent line {line}" if line else ""))
    session.flush()
    return user


def set_agent_line(session: Session, actor: Actor, name: str, line: str | None, *, now: datetime) -> User:
    """Link an agent account to the line hand-offs ring (None: unlink); its desk shows the calls handed there."""
    actor.require({Role.ADMIN, Role.OPERATOR}, "manage users")
    user = _existing(session, name)
    user.agent_line = _check_agent_line(list(user.roles), line)
    user.updated_at = now
    _audit(session, actor.user, "agent_line_set", name, now, user.agent_line or "none")
    session.flush()
    return user


def set_password(session: Session, actor: Actor, name: str, password: str, *, now: datetime,
                 settings: ConsoleSettings) -> User:
    actor.require({Role.ADMIN, Role.OPERATOR}, "manage users")
    user = _existing(session, name)
    _check_password(password, settings)
    user.password_hash, user.password_changed_at, user.updated_at = HASHER.hash(password), now, now
    user.failed_logins, user.locked_until = 0, None  # a new password also lifts a lock
    _audit(session, actor.user, "password_set", name, now)
    session.flush()
    return user


def disable(session: Session, actor: Actor, name: str, *, now: datetime) -> User:
    actor.require({Role.ADMIN, Role.OPERATOR}, "manage users")
    user = _existing(session, name)
    user.disabled, user.updated_at = True, now
    _audit(session, actor.user, "user_disabled", name, now)
    session.flush()
    return user


def enable(session: Session, actor: Actor, name: str, password: str, *, now: datetime,
           settings: ConsoleSettings) -> User:
    """Let a disabled account sign in again, with a new password: the sessions it had before it was disabled
    stay ended (a session is bound to the password's change time)."""
    actor.require({Role.ADMIN, Role.OPERATOR}, "manage users")
    user = _existing(session, name)
    if not user.disabled:
        raise AccountError(f"user {name} is not disabled")
    set_password(session, actor, name, password, now=now, settings=settings)
    user.disabled = False
    _audit(session, actor.user, "user_enabled", name, now)
    session.flush()
    return user


def listing(session: Session, actor: Actor) -> list[User]:
    actor.require({Role.ADMIN, Role.OPERATOR}, "list users")
    return list(session.scalars(select(User).order_by(User.name)))


def _existing(session: Session, name: str) -> User:
    user = by_name(session, name)
    if user is None:
        raise AccountError(f"no user {name}")
    return user


def actor_of(user: User) -> Actor:
    return Actor.of(user.name, user.roles, user.branches)


REFUSED = "用户名或密码错误"  # the same words whether the name exists or not


def sign_in(session: Session, name: str, password: str, *, now: datetime, settings: ConsoleSettings) -> SignIn:
    """Check a password. A wrong one is counted (and audited); the last allowed one locks the account."""
    user = by_name(session, name.strip())
    if user is None:
        HASHER.hash(password)  # the same time as a wrong password for a real account: no name probing
        _audit(session, name[:64] or "?", "login_failed", name or "?", now, "no such user")
        return SignIn(None, REFUSED)
    if user.disabled:
        _audit(session, user.name, "login_failed", user.name, now, "account disabled")
        return SignIn(None, "账号已停用，请联系管理员")
    if user.locked_until is not None and now < user.locked_until:
        _audit(session, user.name, "login_failed", user.name, now, "account locked")
        minutes = max(1, int((user.locked_until - now).total_seconds() + 59) // 60)
        return SignIn(None, f"连续输错密码次数过多，账号已锁定，请 {minutes} 分钟后再试")
    try:
        HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        user.updated_at = now
        detail = f"wrong password ({user.failed_logins} in a row)"
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            detail += f"; locked until {user.locked_until.isoformat(timespec='seconds')}"
            _audit(session, user.name, "account_locked", user.name, now, detail)
        else:
            _audit(session, user.name, "login_failed", user.name, now, detail)
        session.flush()
        return SignIn(None, REFUSED)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at, user.updated_at = 0, None, now, now
    _audit(session, user.name, "login", user.name, now)
    session.flush()
    return SignIn(actor_of(user))
