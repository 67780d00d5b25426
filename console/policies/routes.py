"""The policy desk: `GET /console/policies?q=…` (search) and `GET /console/policies/<policy_no>` (the policy,
its callback task and its timeline). For the roles that read policies; agents reach theirs from the agent desk."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from console.cases.routes import sla_words
from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.policies.queries import PolicyNotFound, policy_page, search
from console.recordings.queries import recording_store
from kit.actor import CASE_READERS

policies = desk("policies", __name__)


@policies.get("/policies", endpoint="search_page")
def search_view() -> Response | str:
    """The search form; with `q`, the matching policies (one exact policy number: straight to it)."""
    q = (request.args.get("q") or "").strip()
    raw_page = request.args.get("page", "1")
    page = max(1, int(raw_page)) if raw_page.isdigit() else 1
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        result = search(db, actor, q, page) if q else None
    if result is not None and result.exact_hit:
        return redirect(url_for("policies.policy_page", policy_no=result.exact_hit))
    return render_template("console/policies/search.html", actor=actor, result=result, q=q, args=request.args)


@policies.get("/policies/<policy_no>", endpoint="policy_page")
def policy_view_route(policy_no: str) -> Response | str:
    now = context().clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, CASE_READERS)
        try:
            page = policy_page(db, actor, policy_no, now, recording_store())
        except PolicyNotFound:
            abort(404)
        sla = {c.id: sla_words(c.sla_status, c.due_at, now) for c in page.cases}
        return render_template("console/policies/policy.html", actor=actor, page=page, sla=sla)
