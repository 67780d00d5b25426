"""Dead letters of the result notifications: `GET /console/notifications` (the events the sender gave up on, newest
first) and `POST /console/notifications/resend` (one sent again: the same service as `huifang notifications
resend`, audited). Supervisors and administrators: the core-system link is an operations matter (no customer data
beyond the policy number)."""

from __future__ import annotations

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.desk import desk
from kit.actor import Role
from notifications import outbox
from recordings.audit import audit

notifications_desk = desk("notifications", __name__)
KEEPERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
PAGE_SIZE = 200


def _render(error: str = "", status_code: int = 200) -> tuple[str, int]:
    with unit_of_work() as db:
        actor = page_actor(db, KEEPERS)
        # the times as instants, for the page's Beijing time (as_json's are UTC ISO strings, for scripts)
        dead = [{**outbox.as_json(e), "occurred": e.created_at, "given_up": e.dead_at}
                for e in db.scalars(outbox.listed(dead_only=True, limit=PAGE_SIZE))]
        pending = len(list(db.scalars(outbox.listed(dead_only=False, limit=PAGE_SIZE * 5)))) - len(dead)
    settings = context().settings.notifications
    html = render_template("console/notifications/page.html", actor=actor, dead=dead, pending=max(pending, 0),
                           endpoint=settings.endpoint, keep_days=settings.keep_days, error=error,
                           messages=get_flashed_messages(with_categories=True))
    return html, status_code


@notifications_desk.get("/notifications", endpoint="page")
def page_view() -> tuple[str, int]:
    return _render()


@notifications_desk.post("/notifications/resend", endpoint="resend")
def resend_route() -> Response | tuple[str, int]:
    event_id = request.form.get("event", "").strip()
    now = context().clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, KEEPERS)
        try:
            ids = outbox.resend(db, now=now, event_id=event_id) if event_id else None
        except outbox.NotResendable:
            ids = None
        if not ids:
            refusal = "未找到该事件，或该事件正在发送中"
        else:
            audit(db, actor=actor, action="notify_resend", target=event_id, now=now)
            db.commit()
    if not ids:
        return _render(refusal, 422)
    flash(f"已重新发送：{event_id}（将在下一次发送时投递）", "done")
    return redirect(url_for("notifications.page"))
