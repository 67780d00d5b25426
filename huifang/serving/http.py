"""What every request of the web app gets: timing, a log line, metrics, security headers, a body size limit;
and the operations routes /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request

from console.app import CSP as PAGE_CSP
from huifang.serving.checks import Readiness
from huifang.serving.metrics import authorised, exposition, process_metrics, scrape_registry

log = logging.getLogger("huifang.web")
OPS_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
NON_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'"
SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
TASK = re.compile(r"^[0-9]{1,12}$")

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Response:
    """200 `ok` (docs/interfaces.md): the process answers; nothing else is checked."""
    return Response("ok\n", status=200, mimetype="text/plain")


@ops.get("/readyz")
def readyz() -> Response:
    readiness: Readiness = current_app.extensions["huifang.readiness"]
    checks, ready = readiness.report()
    return _json(checks, 200 if ready else 503)


@ops.get("/metrics")
def metrics() -> Response:
    token: str | None = current_app.extensions["huifang.metrics_token"]
    if token is None:
        abort(404)
    if not authorised(request.headers.get("Authorization"), token):
        return Response("a bearer token is required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    collectors: Iterable[Any] = current_app.extensions["huifang.metrics_collectors"]
    body, content_type = exposition(scrape_registry(collectors))
    return Response(body, status=200, content_type=content_type)


def _json(body: dict[str, str], status: int) -> Response:
    import json

    return Response(json.dumps(body, ensure_ascii=False) + "\n", status=status, mimetype="application/json")


def install(app: Flask, *, readiness: Readiness, metrics_token: str | None, collectors: Iterable[Any],
            max_content_length: int) -> None:
    """Mount the operations routes and the per-request hooks on `app` (one set for webhooks, prompt audio,
    agent pages and the console)."""
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.extensions["huifang.readiness"] = readiness
    app.extensions["huifang.metrics_token"] = metrics_token
    app.extensions["huifang.metrics_collectors"] = list(collectors)
    app.register_blueprint(ops)
    app.before_request_funcs.setdefault(None, []).insert(0, _started)  # first: times the console's checks too
    app.after_request(_finished)
    app.teardown_request(_torn_down)


def _route() -> str:
    """The route template (`/twilio/voice/turn`, `/console/cases/<int:case_id>`), never the raw URL."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def _started() -> None:
    g.huifang_started = time.perf_counter()
    g.huifang_route = _route()
    process_metrics().in_flight.labels(route=g.huifang_route).inc()


def _torn_down(_exc: BaseException | None) -> None:
    route = g.pop("huifang_route", None)
    if route is not None:
        process_metrics().in_flight.labels(route=route).dec()


def _finished(response: Response) -> Response:
    secure(response)
    started: float | None = g.get("huifang_started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route, method, status = _route(), request.method, response.status_code
    metrics = process_metrics()
    metrics.requests.labels(route=route, method=method, status=str(status)).inc()
    metrics.latency.labels(route=route, method=method).observe(seconds)
    _log(route, method, status, seconds)
    return response


def _log(route: str, method: str, status: int, seconds: float) -> None:
    fields: dict[str, Any] = {"route": route, "method": method, "status": status,
                              "duration_ms": round(seconds * 1000, 1)}
    if route.startswith("/twilio/"):
        fields["call_sid"] = _form_value("CallSid", SID)
        task = request.args.get("task", "")
        fields["task"] = task if TASK.match(task) else None
    level = logging.DEBUG if route in OPS_ROUTES else logging.INFO
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = max(level, logging.WARNING)
    if not log.isEnabledFor(level):
        return
    who = " ".join(f"{k}={fields[k]}" for k in ("call_sid", "task") if fields.get(k))
    log.log(level, "%s %s %s %.1f ms%s", method, route, status, fields["duration_ms"], f" {who}" if who else "",
            extra=fields)


def _form_value(name: str, pattern: re.Pattern[str]) -> str | None:
    """A form field for the log, only when the form was already read and is well formed (never parses a body
    here: a refused one stays unread)."""
    form = request.__dict__.get("form")
    value = form.get(name, "") if form is not None else ""
    return value if pattern.match(value) else None


def secure(response: Response) -> Response:
    """Security headers for every response; those a route set itself are kept. TwiML and audio get a CSP
    that loads nothing (Twilio and players ignore it); pages keep the console's."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")  # the console's CSRF check reads Referer over https
    headers.setdefault("Content-Security-Policy", PAGE_CSP if response.mimetype == "text/html" else NON_PAGE_CSP)
    headers.setdefault("Cache-Control", "no-store")  # personal data: nothing kept by a browser or a proxy
    return response


