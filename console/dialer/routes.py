"""The supervisor's dialer page: `GET /console/dialer` (the running dialers, the pauses in force, today's due
backlog by hour; the dialer table refreshes itself with htmx), `POST /console/dialer/pause` and
`POST /console/dialer/resume` — the same service as `huifang dialer pause|resume` (dialer.controls), audited
with who and why. Supervisors view and control; administrators may view (the dialers' health is theirs to
watch; calling is not theirs to stop)."""

from __future__ import annotations

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.dialer.queries import branches, dialer_page, refusal_zh, scope_zh, seconds, state_zh
from dialer import controls
from dialer.controls import CONTROLLERS, VIEWERS, ControlError, Scope
from kit.clock import business_today
from kit.vocab import ProductType

dialer_desk = desk("dialer", __name__)


def _render(form_name: str = "", form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            status_code: int = 200) -> tuple[str, int]:
    ctx = context()
    now = ctx.clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, VIEWERS)
        page = dialer_page(db, actor, ctx.settings, now, business_today(ctx.clock))
    html = render_template("console/dialer/page.html", actor=actor, page=page, can_control=actor.has(CONTROLLERS),
                           form_name=form_name, form=form or {}, errors=errors or {}, scope_zh=scope_zh,
                           seconds=seconds, state_zh=state_zh, stale_after=ctx.settings.dialer.stale_after_ticks, product_types=[p.value for p in ProductType],
                           messages=get_flashed_messages(with_categories=True))
    return html, status_code


@dialer_desk.get("/dialer", endpoint="page")
def page_view() -> tuple[str, int]:
    return _render()


def _change(name: str) -> Response | tuple[str, int]:
    """Pause or resume (`name`) the scope of the form's `branch` and `product_type` (empty: every one), for
    `reason`; a resume form also names the `pause` it came from (its row on the page, for the message)."""
    form = {k: request.form.get(k, "") for k in ("branch", "product_type", "reason", "pause")}
    ctx = context()
    refusal: str | None = None
    with unit_of_work() as db:
        actor = page_actor(db, CONTROLLERS)
        names = branches(db)
        change = controls.pause if name == "pause" else controls.resume
        try:
            done = change(db, actor, branch=form["branch"], product_type=form["product_type"],
                          reason=form["reason"], now=ctx.clock.now())
        except ControlError as exc:
            kind = form["product_type"] if form["product_type"] in {p.value for p in ProductType} else None
            refusal = refusal_zh(exc, Scope(form["branch"].strip() or None, ProductType(kind) if kind else None),
                                 names)
            field = exc.field or "form"
        else:
            db.commit()
    if refusal is not None:  # the page again, with the message beside the field (or above the form)
        return _render(name, form, {field: refusal}, 400)
    verb = "已暂停拨号" if name == "pause" else "已恢复拨号"
    flash(f"{verb}：{scope_zh(done.scope, names)}（拨号程序在下一次运行时生效）", "done")
    return redirect(url_for("dialer.page"))


@dialer_desk.post("/dialer/pause", endpoint="pause")
def pause_route() -> Response | tuple[str, int]:
    return _change("pause")


@dialer_desk.post("/dialer/resume", endpoint="resume")
def resume_route() -> Response | tuple[str, int]:
    return _change("resume")
