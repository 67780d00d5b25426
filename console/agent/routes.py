"""The agent desk: `GET /console/agent` (the calls handed off to the signed-in agent, in progress and earlier
today), `GET /console/agent/calls/<call_sid>` (the context a hand-off opens) and its outcome form
`POST …/outcome`, which runs the same service as the token link (calls.service.agent_outcome)."""

from __future__ import annotations

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from calls import service as calls
from calls.context import CallContext
from calls.errors import CallError, OutcomeFinal
from console.agent.queries import HandoffNotFound, desk, handoff
from console.context import context, page_actor, unit_of_work
from console.desk import desk as make_desk
from console.labels import zh
from kit.actor import Role
from kit.vocab import AgentOutcome

agent_desk = make_desk("agent_desk", __name__)
AGENTS = frozenset({Role.AGENT})
NOTE_MAX = 500


@agent_desk.get("/agent", endpoint="desk_page")
def desk_view() -> Response | str:
    now = context().clock.now()
    with unit_of_work() as db:
        actor = page_actor(db, AGENTS)
        page = desk(db, actor, now)
    return render_template("console/agent/desk.html", actor=actor, page=page)


@agent_desk.get("/agent/calls/<call_sid>", endpoint="call_page")
def call_view(call_sid: str) -> Response | str:
    with unit_of_work() as db:
        actor = page_actor(db, AGENTS)
        try:
            page = handoff(db, actor, call_sid)
        except HandoffNotFound:
            abort(404)
        return render_template("console/agent/call.html", actor=actor, page=page, form={}, errors={},
                               messages=get_flashed_messages(with_categories=True))


def _call_rules() -> CallContext:
    rules = context().calls
    if rules is None:
        raise RuntimeError("the console was mounted without the call rules (ConsoleContext.calls)")
    return rules


@agent_desk.post("/agent/calls/<call_sid>/outcome", endpoint="outcome")
def outcome_route(call_sid: str) -> Response | tuple[str, int]:
    """The agent's word on the call: the same service, and so the same classification, as the token link."""
    form = request.form
    errors: dict[str, str] = {}
    outcome = next((o for o in AgentOutcome if o.value == form.get("outcome")), None)
    if outcome is None:
        errors["outcome"] = "请选择处理结果：已解释清楚或未解释清楚"
    note = form.get("note", "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"备注最多 {NOTE_MAX} 字（现有 {len(note)} 字）"
    with unit_of_work() as db:
        actor = page_actor(db, AGENTS)
        try:
            page = handoff(db, actor, call_sid)  # not the agent's call: 404 before anything changes
        except HandoffNotFound:
            abort(404)
        if outcome is not None and not errors:
            try:
                loaded = calls.agent_outcome(db, _call_rules(), call_sid, outcome, note)
            except OutcomeFinal:
                errors["form"] = "此通话的处理结果已确定，不能再更改；如需更改，请在该通话的问题件中处理"
            except CallError:
                errors["form"] = "此通话当前不能记录处理结果，请刷新页面后重试"
            else:
                call = loaded.call
                words = (f"回访结果：{zh(call.result_class, 'result')}" if call.end_reason and call.result_class
                         else "通话结束后将据此判定回访结果")
                db.commit()
                flash(f"已提交：{zh(outcome, 'agent_outcome')}；{words}", "done")
                return redirect(url_for("agent_desk.call_page", call_sid=call_sid))
        html = render_template("console/agent/call.html", actor=actor, page=page, form=form, errors=errors,
                               messages=[])
    return html, 400
