"""Mounts the console on the web app: sign-in, the desks, CSRF on every POST, security headers.

The session cookie is signed with the secret key (`HUIFANG_SECRET_KEY`); it is HttpOnly, SameSite=Lax and
Secure when the public URL is https. Pages allow no inline script and no framing (docs/console.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from werkzeug.wrappers import Response

from console.context import ConsoleContext
from console.formatting import FILTERS, GLOBAL_FUNCTIONS
from console.labels import GLOBALS

HERE = Path(__file__).parent
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


def urlencode_page(args: dict[str, str], page: int) -> str:
    """The current filters with another page number (filters stay in the URL)."""
    return urlencode({**{k: v for k, v in args.items() if k != "page"}, "page": page})


def mount_console(app: Flask, ctx: ConsoleContext, secret_key: str, *, https: bool) -> None:
    from console.agent.routes import agent_desk
    from console.audit.routes import audit_desk
    from console.auth.routes import auth
    from console.cases.routes import cases
    from console.dialer.routes import dialer_desk
    from console.flows.routes import flows_desk
    from console.imports.routes import imports
    from console.notifications.routes import notifications_desk
    from console.policies.routes import policies
    from console.qa.routes import qa_desk
    from console.recordings.routes import recordings
    from console.reports.routes import reports
    from console.users.routes import users

    if len(secret_key) < 32:
        raise ValueError("HUIFANG_SECRET_KEY: the console's secret key must be at least 32 characters")
    app.secret_key = secret_key
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=https,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=8), WTF_CSRF_TIME_LIMIT=None,
                      WTF_CSRF_CHECK_DEFAULT=False)  # checked by every desk (console.desk), not by the webhooks
    app.extensions["huifang.console"] = ctx
    app.jinja_loader = _loader(app)
    app.jinja_env.filters["urlencode_page"] = urlencode_page
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.update(GLOBALS, **GLOBAL_FUNCTIONS)
    CSRFProtect(app)
    app.register_blueprint(Blueprint("console_static", __name__, static_folder=str(HERE / "static"),
                                     static_url_path="/console/static"))
    for desk in (auth, cases, policies, agent_desk, recordings, users, imports, dialer_desk):
        app.register_blueprint(desk)
    app.register_blueprint(audit_desk)
    app.register_blueprint(reports)
    app.register_blueprint(qa_desk)
    app.register_blueprint(flows_desk)
    app.register_blueprint(notifications_desk)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
        return response


def _loader(app: Flask) -> ChoiceLoader:
    loaders: list[BaseLoader] = [FileSystemLoader(str(HERE / "templates"))]
    if app.jinja_loader is not None:
        loaders.append(app.jinja_loader)
    return ChoiceLoader(loaders)
