"""`huifang serve`: every refusal first (one line each, before a server starts), then gunicorn or, with
--dev, werkzeug's development server. One app either way: webhooks, prompt audio, agent pages, console."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import click

from huifang.app import App
from huifang.serving.binding import format_bind, is_loopback, parse_bind

log = logging.getLogger("huifang.serve")


class ServeRefused(ValueError):
    """Why the server will not start (one line)."""


@dataclass(frozen=True)
class ServeOptions:
    host: str | None = None
    port: int | None = None
    dev: bool = False
    insecure: bool = False
    webhooks_only: bool = False


def listen_address(app: App, opts: ServeOptions) -> tuple[str, int]:
    try:
        host, port = parse_bind(app.settings.web.bind)
    except ValueError as exc:
        raise ServeRefused(str(exc)) from None
    return opts.host or host, port if opts.port is None else opts.port


def check_signatures(app: App, host: str, insecure: bool) -> None:
    """Unsigned webhooks would let anyone who reaches the port drive calls: only on a loopback address, and
    only when asked for with --insecure."""
    if app.settings.twilio.validate_signatures:
        return
    if not insecure:
        raise ServeRefused("twilio.validate_signatures is false: anyone who can reach the server could drive its "
                           "calls; turn it on, or pass --insecure to experiment on a loopback address")
    if not is_loopback(host):
        raise ServeRefused(f"--insecure serves unsigned webhooks on loopback addresses only, not on {host}")


def serve(app: App, opts: ServeOptions) -> None:
    from huifang.serving.logs import configure
    from huifang.serving.metrics import metrics_token
    from huifang.web import SECRET_KEY_MISSING, build_services, compose, secret_key
    from ivr.security import SignatureCheck
    from speech.asr import ModelError
    from speech.lexicon import LexiconError
    from speech.tts import TtsUnavailable

    host, port = listen_address(app, opts)
    check_signatures(app, host, opts.insecure)
    try:
        secret = None if opts.webhooks_only else secret_key(os.environ)
        if secret is None and not opts.webhooks_only:
            raise ValueError(SECRET_KEY_MISSING)
        token = metrics_token(os.environ)
        if app.settings.twilio.validate_signatures and not app.settings.twilio.auth_token:
            SignatureCheck(app.settings.twilio.auth_token, app.settings.ivr.public_base_url)  # its one-line refusal
        configure(app.settings.web.log_format)  # after the refusals: each stays the one line printed
        web = compose(app, build_services(app), secret, token)
    except (ValueError, ModelError, LexiconError, TtsUnavailable) as exc:
        raise ServeRefused(f"cannot start the web app: {exc}") from None
    settings = app.settings
    what = "webhooks" if secret is None else "webhooks and console"
    metrics = "behind its token" if token else "off (no HUIFANG_METRICS_TOKEN)"
    if opts.dev:
        from werkzeug.serving import WSGIRequestHandler, run_simple

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                """No access line with the query string: the app logs each request itself."""

        click.echo(f"huifang: serving {what} on http://{format_bind(host, port)} with the development server "
                   f"(public URL {settings.ivr.public_base_url}; /metrics {metrics})", err=True)
        run_simple(host, port, web, threaded=True, request_handler=QuietHandler)
        return
    from huifang.serving import gunicorn_app

    click.echo(f"huifang: serving {what} on http://{format_bind(host, port)} with gunicorn, "
               f"{settings.web.workers} workers × {settings.web.threads} threads (public URL "
               f"{settings.ivr.public_base_url}; /metrics {metrics})", err=True)
    gunicorn_app.run(settings, web, format_bind(host, port), after_fork=lambda: app.engine.dispose(close=False))
