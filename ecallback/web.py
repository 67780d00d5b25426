"""The e-callback page (`/e/<token>`, docs/interfaces.md "The e-callback page"): a Flask blueprint on the same app
as the console and the webhooks, mobile first, in Chinese, no script at all, every form CSRF-protected as the
console's. HTTP only: each request is one transaction (ecallback.pages), and an SMS it queued is sent after the
commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from calls.context import CallContext
from calls.sessions import session_context
from ecallback import pages
from ecallback.traces import record_screen
from messaging.queue import Outbound
from messaging.senders import build_sender
from recordings.store import RecordingStore
from storage.db import unit_of_work

EXTENSION = "huifang.ecallback"


@dataclass
class EcallbackContext:
    sessions: sessionmaker[Session]
    calls: CallContext  # the questionnaire off the phone (calls.sessions.session_context)
    outbound: Outbound
    files: RecordingStore  # the screens' snapshots, beside the recordings

    @classmethod
    def build(cls, sessions: sessionmaker[Session], phone: CallContext, files: RecordingStore) -> EcallbackContext:
        settings = phone.settings
        e = settings.ecallback
        calls = session_context(phone, identity_attempts=e.identity_attempts, time_limit_s=0)
        outbound = Outbound(sessions, build_sender(settings, sessions, phone.clock), phone.clock, settings.sms)
        return cls(sessions, calls, outbound, files)


page = Blueprint("ecallback", __name__, url_prefix="/e", template_folder="templates", static_folder="static",
                 static_url_path="/static")


@page.before_request
def _csrf() -> None:
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["csrf"].protect()


def mount_ecallback(app: Flask, ctx: EcallbackContext) -> None:
    """Needs the console mounted first (its secret key signs the page's CSRF token)."""
    app.extensions[EXTENSION] = ctx
    app.register_blueprint(page)


def _ctx() -> EcallbackContext:
    ctx: EcallbackContext = current_app.extensions[EXTENSION]
    return ctx


def _browser() -> dict[str, Any]:
    return {"ip": request.remote_addr or "", "user_agent": request.user_agent.string[:512]}


def _show(shown: pages.Screen, token: str) -> Response:
    """Render a screen and keep it (text, SHA-256, browser) in the session's record."""
    ctx = _ctx()
    html = render_template("ecallback/screen.html", s=shown, token=token)
    if shown.kind not in (pages.INVALID, pages.EXPIRED):  # an expired link changes nothing
        with unit_of_work(ctx.sessions) as session:
            record_screen(session, token=token, kind=shown.kind, text=shown.text, seq=shown.seq, html=html,
                          detail=_browser(), now=ctx.calls.clock.now(), files=ctx.files,
                          settings=ctx.calls.settings.recordings)
            session.commit()
    response = make_response(html, shown.status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@page.get("/<token>")
def show(token: str) -> Response:
    ctx = _ctx()
    with unit_of_work(ctx.sessions) as session:
        shown = pages.screen(session, ctx.calls, token, ctx.calls.clock.now())
    return _show(shown, token)


@page.post("/<token>/code")
def code(token: str) -> Response:
    ctx = _ctx()
    with unit_of_work(ctx.sessions) as session:
        try:
            message_id = pages.request_code(session, ctx.calls, token, _browser())
        except pages.PageRefused as refused:
            session.commit()
            return _show(refused.screen, token)
        shown = pages.screen(session, ctx.calls, token, ctx.calls.clock.now())
        session.commit()
    sent = ctx.outbound.send_now(message_id)  # no transaction open
    shown.error = "验证码已发送，请查看短信。" if sent.status == "sent" else "验证码发送中，如未收到请稍后重试。"
    return _show(shown, token)


@page.post("/<token>/identity")
def identity(token: str) -> Response:
    ctx = _ctx()
    form = request.form
    with unit_of_work(ctx.sessions) as session:
        try:
            ended = pages.identify(session, ctx.calls, token, form.get("birth_date", ""), form.get("code", ""),
                                   _browser())
        except pages.PageRefused as refused:
            session.commit()  # a wrong code counts
            return _show(refused.screen, token)
        session.commit()
    return _show(ended, token) if ended is not None else redirect(url_for("ecallback.show", token=token), 303)


@page.post("/<token>/answer")
def answer(token: str) -> Response:
    ctx = _ctx()
    form = request.form
    seq = form.get("seq", "")
    with unit_of_work(ctx.sessions) as session:
        try:
            ended = pages.answer(session, ctx.calls, token, int(seq) if seq.isdigit() else -1,
                                 form.get("answer", ""), _browser())
        except pages.PageRefused as refused:
            session.commit()
            return _show(refused.screen, token)
        session.commit()
    return _show(ended, token) if ended is not None else redirect(url_for("ecallback.show", token=token), 303)
