"""`huifang apikeys add | revoke | list`: the core system's API keys (api.keys). A key is printed once, by `add`;
only its SHA-256 is kept. Making and revoking a key are written to the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from api.keys import SCOPES, KeyRefused, add_key, list_keys, parse_scopes, revoke_key
from huifang.app import App
from huifang.output import emit_json, emit_table
from recordings.audit import audit


@click.group("apikeys")
def apikeys_group() -> None:
    """API keys of the core system (/api/v1): scopes policies:write, policies:read, results:read."""


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except KeyRefused as exc:
        raise click.ClickException(str(exc)) from None


@apikeys_group.command("add")
@click.argument("name")
@click.option("--scope", "scope_text", required=True,
              help=f"Comma-separated: {', '.join(SCOPES)}.")
@click.option("--json", "as_json", is_flag=True, help="Accepted for uniformity: the output is always JSON.")
@click.pass_obj
def apikeys_add(app: App, name: str, scope_text: str, as_json: bool) -> None:
    """Make a key and print it once: {"name", "key", "scopes"}. Give it to the core system; it cannot be shown
    again (a lost key is revoked and a new one made, under a new name)."""
    with app.unit_of_work() as session, _refusals():
        made = add_key(session, name, parse_scopes(scope_text), by=app.actor.user, now=app.clock.now())
        audit(session, actor=app.actor, action="api_key_add", target=name, now=app.clock.now(),
              detail=f"scopes {','.join(made['scopes'])}")
        session.commit()
    emit_json(made)


@apikeys_group.command("revoke")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Accepted for uniformity: the output is always JSON.")
@click.pass_obj
def apikeys_revoke(app: App, name: str, as_json: bool) -> None:
    """Revoke a key: its next call is refused (401 key_revoked). Revoking a revoked key changes nothing."""
    with app.unit_of_work() as session, _refusals():
        done = revoke_key(session, name, by=app.actor.user, now=app.clock.now())
        audit(session, actor=app.actor, action="api_key_revoke", target=name, now=app.clock.now())
        session.commit()
    emit_json(done)


@apikeys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def apikeys_list(app: App, as_json: bool) -> None:
    """Every key (never the key itself: its first characters), its scopes, whether it is revoked, its last use."""
    with app.unit_of_work() as session:
        keys = list_keys(session)
    if as_json:
        emit_json(keys)
        return
    emit_table(["name", "prefix", "scopes", "revoked", "last_used_at"],
               [(k["name"], k["prefix"], ",".join(k["scopes"]), "yes" if k["revoked"] else "no",
                 k["last_used_at"] or "") for k in keys])
