"""`huifang users add | list | disable | enable | set-password | set-agent-line`: the console's accounts (accounts.service).
Passwords are read from standard input, never from the command line (it would show in `ps` and shell history)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from accounts.service import (
    ROLES,
    AccountError,
    add_user,
    disable,
    enable,
    listing,
    set_agent_line,
    set_password,
)
from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import NotAllowed
from kit.clock import isoformat_local
from storage.models import User

AGENT_LINE_HELP = ("An agent's line: the hand-off target that rings them, exactly as ivr.agent_target "
                   "(number, SIP URI or client identity). Their agent desk shows the calls handed to it.")


@click.group("users")
def users_group() -> None:
    """Console accounts: roles (branch, supervisor, compliance, agent, admin, qa) and branches."""


def _password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("--password-stdin: no password on standard input")
    return password


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (AccountError, NotAllowed) as exc:
        raise click.ClickException(str(exc)) from None


def _view(user: User) -> dict[str, Any]:
    return {"name": user.name, "roles": list(user.roles), "branches": list(user.branches),
            "agent_line": user.agent_line, "disabled": user.disabled, "locked_until": isoformat_local(user.locked_until) if user.locked_until
            else None, "last_login_at": isoformat_local(user.last_login_at) if user.last_login_at else None}


@users_group.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeat for several.")
@click.option("--branch", "branches", multiple=True, help="Branch code (机构代码); repeat for several.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--agent-line", default=None, help=AGENT_LINE_HELP)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def users_add(app: App, name: str, roles: tuple[str, ...], branches: tuple[str, ...], password_stdin: bool,
              agent_line: str | None, as_json: bool) -> None:
    """Create an account."""
    password = _password()
    with app.unit_of_work() as session, _refusals():
        user = add_user(session, app.actor, name, password, list(roles), list(branches), now=app.clock.now(),
                        settings=app.settings.console, agent_line=agent_line)
        view = _view(user)
        session.commit()
    _print([view], as_json, single=True)


@users_group.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.pass_obj
def users_set_password(app: App, name: str, password_stdin: bool) -> None:
    """Give an account a new password (also lifts a lock)."""
    password = _password()
    with app.unit_of_work() as session, _refusals():
        set_password(session, app.actor, name, password, now=app.clock.now(), settings=app.settings.console)
        session.commit()
    click.echo(f"{name}: password set")


@users_group.command("set-agent-line")
@click.argument("name")
@click.argument("line", required=False)
@click.pass_obj
def users_set_agent_line(app: App, name: str, line: str | None) -> None:
    """Link an agent account to the line hand-offs ring (leave LINE out to unlink)."""
    with app.unit_of_work() as session, _refusals():
        user = set_agent_line(session, app.actor, name, line, now=app.clock.now())
        session.commit()
    click.echo(f"{name}: agent line {user.agent_line or 'none'}")


@users_group.command("disable")
@click.argument("name")
@click.pass_obj
def users_disable(app: App, name: str) -> None:
    """Stop an account from signing in (its history stays)."""
    with app.unit_of_work() as session, _refusals():
        disable(session, app.actor, name, now=app.clock.now())
        session.commit()
    click.echo(f"{name}: disabled")


@users_group.command("enable")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
@click.pass_obj
def users_enable(app: App, name: str, password_stdin: bool) -> None:
    """Let a disabled account sign in again, with a new password (its old sessions stay ended)."""
    password = _password()
    with app.unit_of_work() as session, _refusals():
        enable(session, app.actor, name, password, now=app.clock.now(), settings=app.settings.console)
        session.commit()
    click.echo(f"{name}: enabled")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def users_list(app: App, as_json: bool) -> None:
    """Every account with its roles and branches."""
    with app.unit_of_work() as session, _refusals():
        views = [_view(u) for u in listing(session, app.actor)]
    _print(views, as_json)


def _print(views: list[dict[str, Any]], as_json: bool, single: bool = False) -> None:
    if as_json:
        emit_json(views[0] if single else views)
        return
    emit_table(["name", "roles", "branches", "agent_line", "disabled", "locked_until", "last_login_at"],
               [(v["name"], ",".join(v["roles"]), ",".join(v["branches"]) or "all", v["agent_line"] or "",
                 "yes" if v["disabled"] else "", v["locked_until"] or "", v["last_login_at"] or "") for v in views])
