"""The /api/v1 blueprint: JSON in and out (UTF-8), errors as {"error": {"code", "message", "details"}}.

Every call but the OpenAPI document names its key (`Authorization: Bearer KEY`), is counted against the key's
minute (api.keys.authenticate, a short transaction of its own), needs its route's scope, and is written to the
audit trail as `api:<key name>` with its route, status and counts once it is answered."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api import keys
from api.openapi import document
from api.payload import Refusal, parse_batch
from api.policies import import_batch, keep_answer, stored_answer
from api.results import CursorExpired, InvalidCursor, results_page
from api.status import policy_status
from intake.service import ImportInterrupted
from kit.calendar import BusinessCalendar
from kit.clock import Clock
from kit.settings import Settings
from recordings.audit import audit
from storage.db import unit_of_work
from tasks.views import PolicyNotFound

log = logging.getLogger(__name__)
EXTENSION = "huifang.api"
IDEMPOTENCY_KEY_MAX = 255
F = TypeVar("F", bound=Callable[..., Response])

api = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]


def mount_api(app: Flask, ctx: ApiContext) -> None:
    app.extensions[EXTENSION] = ctx
    app.register_blueprint(api)


def _ctx() -> ApiContext:
    ctx: ApiContext = current_app.extensions[EXTENSION]
    return ctx


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": details or []}}, status, headers)


# -- every call -----------------------------------------------------------------------------------


@api.before_request
def _authenticate() -> Response | None:
    ctx = _ctx()
    request.max_content_length = ctx.settings.api.max_body_bytes
    g.api_counts = {}
    if request.endpoint in ("api.openapi", "api.not_found"):
        return None
    now = ctx.clock.now()
    with unit_of_work(ctx.sessions) as session:
        try:
            g.api_caller = keys.authenticate(session, request.headers.get("Authorization"), now=now,
                                             rate_per_minute=ctx.settings.api.rate_per_minute)
        except keys.Unauthorised as exc:
            g.api_key_name = exc.name
            return error(401, exc.code, str(exc), headers={"WWW-Authenticate": "Bearer"})
        except keys.RateLimited as exc:
            session.commit()
            g.api_key_name = exc.name
            return error(429, "rate_limited", str(exc), headers={"Retry-After": str(exc.retry_after)})
        session.commit()
    return None


@api.after_request
def _audit(response: Response) -> Response:
    """One audit line per call (the OpenAPI document aside): who, which route, the status and the counts."""
    if request.endpoint == "api.openapi":
        return response
    caller: keys.Caller | None = g.get("api_caller")
    name = caller.name if caller is not None else g.get("api_key_name")
    counts = " ".join(f"{k}={v}" for k, v in g.get("api_counts", {}).items())
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    target = f"{request.method} {rule}"
    if request.view_args and "policy_no" in request.view_args:
        target += f" {request.view_args['policy_no']}"
    ctx = _ctx()
    try:
        with unit_of_work(ctx.sessions) as session:
            audit(session, actor=keys.actor_for(name or "unknown"), action="api_call", target=target,
                  now=ctx.clock.now(), detail=f"status={response.status_code}" + (f" {counts}" if counts else ""))
            session.commit()
    except Exception:  # the answer stands; the failure is logged loudly
        log.exception("could not write the audit line of %s (key %s, status %s)", target, name,
                      response.status_code)
    if caller is not None:
        response.headers["RateLimit-Limit"] = str(ctx.settings.api.rate_per_minute)
        response.headers["RateLimit-Remaining"] = str(caller.remaining)
    return response


def needs(scope: str) -> Callable[[F], F]:
    def wrap(view: F) -> F:
        def checked(*args: Any, **kwargs: Any) -> Response:
            caller: keys.Caller = g.api_caller
            if scope not in caller.scopes:
                return error(403, "missing_scope", f"the API key {caller.name} lacks the scope {scope} (it has: "
                                                   f"{', '.join(sorted(caller.scopes)) or 'none'})")
            return view(*args, **kwargs)

        checked.__name__ = view.__name__
        checked.__doc__ = view.__doc__
        return checked  # type: ignore[return-value]

    return wrap


@api.errorhandler(Refusal)
def _refused(exc: Refusal) -> Response:
    return json_response(exc.body(), exc.status)


@api.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        limit = _ctx().settings.api.max_body_bytes
        return error(413, "body_too_large", f"the body is larger than {limit} bytes (api.max_body_bytes)")
    return error(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")


@api.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return error(500, "internal_error", "internal error; nothing is lost: retry the same request")


# -- routes ---------------------------------------------------------------------------------------


@api.get("/openapi.json", endpoint="openapi")
def openapi() -> Response:
    settings = _ctx().settings
    return json_response(document(settings.api, settings.notifications.keep_days))


@api.post("/policies", endpoint="post_policies")
@needs(keys.POLICIES_WRITE)
def post_policies() -> Response:
    ctx = _ctx()
    caller: keys.Caller = g.api_caller
    if request.mimetype != "application/json":
        return error(415, "unsupported_media_type", "send the batch as Content-Type: application/json")
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        return error(400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
    batch = parse_batch(request.get_data(cache=False), ctx.settings.api.max_batch)
    g.api_counts["records"] = len(batch.records)
    if idempotency_key is not None:
        g.api_counts["idempotency_key"] = json.dumps(idempotency_key, ensure_ascii=False)
        kept = stored_answer(ctx.sessions, caller.key_id, idempotency_key, now=ctx.clock.now(),
                             keep_hours=ctx.settings.api.idempotency_keep_hours)
        if kept is not None:
            return _replay(kept.request_sha256, batch.sha256, kept.status, kept.body)
    try:
        body = import_batch(ctx.sessions, batch, settings=ctx.settings, calendar=ctx.calendar, clock=ctx.clock)
    except ImportInterrupted as exc:
        return error(503, "import_interrupted", f"{exc.cause.__class__.__name__}: the batch stopped part-way; "
                                                "send the same request again to finish (policies are matched by "
                                                "policy_no: nothing is imported twice)")
    g.api_counts.update({k: body[k] for k in ("imported", "updated", "unchanged", "rejected_records")})
    if idempotency_key is not None:
        kept = keep_answer(ctx.sessions, key_id=caller.key_id, idempotency_key=idempotency_key,
                           request_sha256=batch.sha256, status=200, body=body, now=ctx.clock.now(),
                           keep_hours=ctx.settings.api.idempotency_keep_hours)
        if kept.request_sha256 != batch.sha256 or kept.body is not body:
            return _replay(kept.request_sha256, batch.sha256, kept.status, kept.body)
    return json_response(body)


def _replay(kept_sha256: str, sha256: str, status: int, body: dict[str, Any]) -> Response:
    if kept_sha256 != sha256:
        g.api_counts["replayed"] = "refused"
        return error(422, "idempotency_key_reused", "this Idempotency-Key was used with another body: use a new "
                                                    "key for a new batch (nothing was imported)")
    g.api_counts["replayed"] = "yes"
    return json_response(body, status, {"Idempotent-Replayed": "true"})


@api.get("/policies/<policy_no>", endpoint="get_policy")
@needs(keys.POLICIES_READ)
def get_policy(policy_no: str) -> Response:
    ctx = _ctx()
    with unit_of_work(ctx.sessions) as session:
        try:
            body = policy_status(session, g.api_caller.actor, policy_no, ctx.clock.now())
        except PolicyNotFound:
            return error(404, "not_found", f"no policy {policy_no}")
    return json_response(body)


@api.get("/results", endpoint="get_results")
@needs(keys.RESULTS_READ)
def get_results() -> Response:
    ctx = _ctx()
    raw_limit = request.args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        return error(400, "invalid_parameter", "limit must be a whole number from 1 to 1000",
                     [{"index": None, "field": "limit", "message": f"got {raw_limit!r}"}])
    try:
        with unit_of_work(ctx.sessions) as session:
            body = results_page(session, g.api_caller.actor, request.args.get("since") or None, int(raw_limit))
    except InvalidCursor as exc:
        return error(400, "invalid_cursor", str(exc), [{"index": None, "field": "since", "message": str(exc)}])
    except CursorExpired as exc:
        days = ctx.settings.notifications.keep_days
        return error(410, "cursor_expired", f"this cursor is older than the {days} days the feed keeps: results after "
                                            "it were deleted. Resync: read the policies you need with GET /api/v1/"
                                            "policies/{policy_no}, then poll again without since (from the oldest "
                                            "result kept)", [{"index": None, "field": "since", "message": str(exc)}])
    g.api_counts["results"] = len(body["results"])
    return json_response(body)


@api.route("/<path:rest>", endpoint="not_found", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(rest: str) -> Response:
    return error(404, "not_found", f"no route /api/v1/{rest} (the routes: /api/v1/openapi.json)")
