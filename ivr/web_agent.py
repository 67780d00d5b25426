"""The agent's side of a hand-off: a context page for the call, and the outcome form that finishes it.

The page shows personal data: it opens only with a capability (ivr.agent_links) for this call and the agent
line it was handed to. The link's token (`?token=`) is exchanged at once for a session cookie on this call's
page, and the browser is sent to the clean URL; the page and its form accept only the cookie, and the
outcome POST only from this app's own origin (the Origin header, else the Referer). The outcome rule itself
(once the call is classified with it, it is final) is calls.service.agent_outcome's, shared with the console.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template_string, request

from calls import service as calls
from ivr.agent_links import Purpose
from ivr.app import services, unit_of_work
from ivr.services import IvrError
from kit.clock import isoformat_local
from kit.vocab import AgentOutcome
from kit.wire import has_control_character, is_call_sid, origin
from storage.models import Agent
from storage.repositories import calls as call_repo

agent = Blueprint("agent", __name__, url_prefix="/agent")

ANSWER_ZH = {"yes": "是", "no": "否", "clarified": "解释后确认", "unresolved": "解释后仍不清楚",
             "human_requested": "要求人工解释"}
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>回访转人工 {{ call.call_sid }}</title></head>
<body>
<h1>回访转人工</h1>
<p>保单号 {{ policy.policy_no }} · {{ policy.product_name }} · 投保人 {{ policy.applicant_name }}
 · 业务员 {{ agent_name }} · 犹豫期至 {{ policy.cooling_off_end }}</p>
<p>需要解释的问题项：<strong>{{ call.handoff_topic or "无" }}</strong></p>
<h2>已回答</h2>
<table border="1"><tr><th>问题项</th><th>回答</th></tr>
{% for topic, answer in answers %}<tr><td>{{ topic }}</td><td>{{ answer }}</td></tr>{% endfor %}
</table>
<h2>通话记录</h2>
<ol>{% for e in events %}<li>{{ e.at }} {{ e.who }} {{ e.kind }} {{ e.topic or "" }} {{ e.text }}</li>{% endfor %}</ol>
<h2>处理结果</h2>
<p>当前：{{ call.agent_outcome or "未填写" }}</p>
<form method="post" action="{{ action }}">
<label><input type="radio" name="outcome" value="clarified"> 已解释清楚</label>
<label><input type="radio" name="outcome" value="not_clarified"> 未解释清楚</label>
<br><textarea name="note" rows="3" cols="60" maxlength="500" placeholder="备注"></textarea>
<br><button type="submit">提交</button></form>
</body></html>"""


COOKIE = "huifang_agent"
NOTE_MAX = 500
REFUSED = "this page needs the agent's link for this call (links expire: ask for the hand-off's link again)"


def _page_path(call_sid: str) -> str:
    """The page's path as Twilio and browsers see it (the public base URL may carry a path prefix)."""
    return f"{urlsplit(services().settings.ivr.public_base_url).path}/agent/calls/{call_sid}"


def _agent_line(call_sid: str) -> str:
    """The agent line the call was handed to; 404 for a malformed SID, 403 for a call not handed off (as for
    a wrong token: a stranger learns nothing about which calls exist)."""
    if not is_call_sid(call_sid):
        abort(404, "no such call")
    with services().sessions() as session:
        call = call_repo.by_sid(session, call_sid)
        line = call.handoff_target if call is not None else None
    if not line:
        abort(403, REFUSED)
    return line


def _session(call_sid: str, line: str) -> None:
    svc = services()
    if not svc.agent_tokens.valid(request.cookies.get(COOKIE, ""), Purpose.SESSION, call_sid, line, svc.clock.now()):
        abort(403, REFUSED)


def _same_origin() -> None:
    """The outcome form is posted from the page itself: a request from another site is refused (CSRF)."""
    expected = origin(services().settings.ivr.public_base_url)
    sent = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if origin(sent) != expected:
        abort(403, "the outcome must be posted from the call's page (Origin header missing or foreign)")


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@agent.get("/calls/<call_sid>")
def context_page(call_sid: str) -> Response:
    svc = services()
    line = _agent_line(call_sid)
    token = request.args.get("token")
    if token is not None:  # the link: exchanged for this page's session, then off the address bar
        if not svc.agent_tokens.valid(token, Purpose.LINK, call_sid, line, svc.clock.now()):
            abort(403, REFUSED)
        response: Response = redirect(_page_path(call_sid), 303)  # type: ignore[assignment]
        session = svc.agent_tokens.mint(Purpose.SESSION, call_sid, line, svc.clock.now())
        response.set_cookie(COOKIE, session, max_age=int(svc.agent_tokens.session_ttl.total_seconds()),
                            path=_page_path(call_sid), secure=svc.settings.ivr.public_base_url.startswith("https://"),
                            httponly=True, samesite="Strict")
        return _private(response)
    _session(call_sid, line)
    with unit_of_work() as session_db:
        loaded = calls.load(session_db, svc.calls, call_sid)
        agent_row = session_db.get(Agent, loaded.policy.agent_id)
        events = [{"at": isoformat_local(e.at), "who": e.who, "kind": e.kind, "topic": e.topic, "text": e.text}
                  for e in call_repo.events(session_db, loaded.call.id)]
        answers = [(topic, ANSWER_ZH.get(answer, answer)) for topic, answer in loaded.state.answers.items()]
        html = render_template_string(PAGE, call=loaded.call, policy=loaded.policy, answers=answers, events=events,
                                      agent_name=agent_row.name if agent_row else "",
                                      action=_page_path(call_sid) + "/outcome")
    return _private(Response(html, mimetype="text/html"))


@agent.post("/calls/<call_sid>/outcome")
def record_outcome(call_sid: str) -> Response:
    line = _agent_line(call_sid)
    _same_origin()
    _session(call_sid, line)
    raw = request.form.get("outcome", "")
    try:
        outcome = AgentOutcome(raw)
    except ValueError:
        raise IvrError(f"outcome must be clarified or not_clarified, got {raw[:40]!r}") from None
    note = request.form.get("note", "").strip()
    if len(note) > NOTE_MAX or has_control_character(note):
        raise IvrError(f"note must be at most {NOTE_MAX} characters of text")
    with unit_of_work() as session:
        loaded = calls.agent_outcome(session, services().calls, call_sid, outcome, note)
        body = f"{loaded.call.call_sid}: {outcome}; result {loaded.call.result_class or 'pending'}\n"
        session.commit()
    return _private(Response(body, mimetype="text/plain"))
