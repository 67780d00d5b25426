"""The administrator's desk: `GET /console/users`, the console's accounts (read-only; accounts are changed with
`huifang users`, which writes the audit trail)."""

from __future__ import annotations

from flask import render_template

from accounts.service import listing
from console.context import context, page_actor, unit_of_work
from console.desk import desk
from kit.actor import Role

users = desk("users", __name__)


@users.get("/users", endpoint="list_page")
def list_view() -> str:
    now = context().clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, {Role.ADMIN})
        accounts = listing(db, actor)
        return render_template("console/users/list.html", actor=actor, accounts=accounts, now=now)
