"""What the console's routes need, built once per process, and the signed-in actor of a request."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from accounts.service import actor_of, by_name
from calls.context import CallContext
from kit.actor import Actor, Role
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from speech.cache import PromptCache
from storage.db import unit_of_work as storage_unit_of_work


@dataclass
class ConsoleContext:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]
    calls: CallContext | None = None  # the call rules (the agent desk's outcome form); the webhooks' own context
    prompts: PromptCache | None = None  # the prompt audio cache (the flow studio plays prompts); None: no audio


def context() -> ConsoleContext:
    ctx: ConsoleContext = current_app.extensions["huifang.console"]
    return ctx


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per request, rolled back unless the route says `session.commit()`."""
    with storage_unit_of_work(context().sessions) as db:
        yield db


# Sent by the elements that refresh themselves (hx-headers): such a request does not count as use of the console,
# so a page left open on a desk still signs out after `[console] idle_timeout_minutes`.
POLL_HEADER = "X-Console-Poll"


def signed_in(db: Session) -> Actor | None:
    """The actor of this request: the account in the session cookie, still enabled and with the same password
    (checked every request, so disabling an account or changing its password ends its sessions), and not idle
    for longer than `[console] idle_timeout_minutes`."""
    name = session.get("user")
    if not name:
        return None
    ctx = context()
    now = ctx.clock.now()
    seen = session.get("seen")
    idle = timedelta(minutes=ctx.settings.console.idle_timeout_minutes)
    user = by_name(db, name)
    if (user is None or user.disabled or user.password_changed_at.isoformat() != session.get("since")
            or not isinstance(seen, str) or now - datetime.fromisoformat(seen) > idle):
        session.clear()
        return None
    if request.headers.get(POLL_HEADER) != "1":  # a page refreshing itself is not someone using the console
        session["seen"] = now.isoformat()
    return actor_of(user)


def page_actor(db: Session, roles: Iterable[Role] | None = None) -> Actor:
    """The signed-in actor of a page or form, or the request ends here: not signed in → the sign-in page
    (coming back afterwards); signed in without one of `roles` → 403 (the desk is not theirs).
    Which *data* the actor sees is decided by the scoped queries, where out of scope is 404."""
    actor = signed_in(db)
    if actor is None and request.headers.get("HX-Request") == "true":
        # an htmx swap (a poll, a filter): the whole page goes to the sign-in form, not the fragment's place
        abort(Response(status=401, headers={"HX-Redirect": url_for("auth.login")}))
    if actor is None:
        target = request.full_path if request.method == "GET" else None
        abort(redirect(url_for("auth.login", next=target) if target else url_for("auth.login")))
    if roles is not None and not actor.has(roles):
        abort(_forbidden(actor))
    return actor


def _forbidden(actor: Actor) -> Response:
    return make_response(render_template("console/forbidden.html", actor=actor), 403)

