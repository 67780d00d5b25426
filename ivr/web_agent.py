"""The agent's side of a hand-off: a context page for the call, and the outcome form that finishes it.

Links carry a per-call token (HMAC of the CallSid); the page shows personal data, so no token, no page.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, render_template_string, request

from calls import service as calls
from ivr.app import services, unit_of_work
from ivr.services import IvrError
from kit.clock import isoformat_local
from kit.vocab import AgentOutcome
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
<form method="post" action="/agent/calls/{{ call.call_sid }}/outcome?token={{ token }}">
<label><input type="radio" name="outcome" value="clarified"> 已解释清楚</label>
<label><input type="radio" name="outcome" value="not_clarified"> 未解释清楚</label>
<br><textarea name="note" rows="3" cols="60" placeholder="备注"></textarea>
<br><button type="submit">提交</button></form>
</body></html>"""


def _authorised(call_sid: str) -> None:
    token = request.args.get("token", "")
    if not hmac.compare_digest(token, services().agent_token(call_sid)):
        abort(403, "missing or wrong token for this call")


@agent.get("/calls/<call_sid>")
def context_page(call_sid: str) -> Response:
    _authorised(call_sid)
    with unit_of_work() as session:
        loaded = calls.load(session, services().calls, call_sid)
        agent_row = session.get(Agent, loaded.policy.agent_id)
        events = [{"at": isoformat_local(e.at), "who": e.who, "kind": e.kind, "topic": e.topic, "text": e.text}
                  for e in call_repo.events(session, loaded.call.id)]
        answers = [(topic, ANSWER_ZH.get(answer, answer)) for topic, answer in loaded.state.answers.items()]
        html = render_template_string(PAGE, call=loaded.call, policy=loaded.policy, answers=answers, events=events,
                                      agent_name=agent_row.name if agent_row else "", token=request.args["token"])
    return Response(html, mimetype="text/html")


@agent.post("/calls/<call_sid>/outcome")
def record_outcome(call_sid: str) -> Response:
    _authorised(call_sid)
    raw = request.form.get("outcome", "")
    try:
        outcome = AgentOutcome(raw)
    except ValueError:
        raise IvrError(f"outcome must be clarified or not_clarified, got {raw!r}") from None
    with unit_of_work() as session:
        loaded = calls.agent_outcome(session, services().calls, call_sid, outcome, request.form.get("note", ""))
        body = f"{loaded.call.call_sid}: {outcome}; result {loaded.call.result_class or 'pending'}\n"
        session.commit()
    return Response(body, mimetype="text/plain")
