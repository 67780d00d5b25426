"""The Flask app factory: Twilio's webhooks, prompt audio and the agent's context page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from calls.errors import BadCallInput, CallConflict, CallError, OutcomeFinal, UnknownCall
from ivr.security import SignatureCheck
from ivr.services import IvrError, IvrServices
from storage.db import unit_of_work as storage_unit_of_work

log = logging.getLogger(__name__)
CALL_ERROR_STATUS: dict[type[CallError], int] = {UnknownCall: 404, CallConflict: 409, OutcomeFinal: 409,
                                                 BadCallInput: 400}


def create_app(services: IvrServices) -> Flask:
    from ivr.web_agent import agent
    from ivr.web_stream import mount_streams
    from ivr.web_twilio import media, twilio

    app = Flask("huifang.ivr")
    app.extensions["huifang"] = services
    app.extensions["huifang.signatures"] = SignatureCheck(
        services.settings.twilio.auth_token, services.settings.ivr.public_base_url,
        services.settings.twilio.validate_signatures)
    app.register_blueprint(twilio)
    app.register_blueprint(media)
    app.register_blueprint(agent)
    mount_streams(app)

    @app.errorhandler(Exception)
    def _error(exc: Exception) -> Response:
        """One handler: our refusals and HTTP errors as a plain one-line body; anything else logged, 500."""
        if isinstance(exc, IvrError):
            return Response(f"{exc}\n", status=exc.status, mimetype="text/plain")
        if isinstance(exc, CallError):
            return Response(f"{exc}\n", status=CALL_ERROR_STATUS.get(type(exc), 400), mimetype="text/plain")
        if isinstance(exc, HTTPException) and exc.response is not None:
            return exc.response  # type: ignore[return-value]  # a complete answer given to abort() (a redirect, a rendered page)
        if isinstance(exc, HTTPException):
            return Response(f"{exc.description}\n", status=exc.code or 500, mimetype="text/plain")
        log.exception("unexpected error in a request")
        return Response("internal error\n", status=500, mimetype="text/plain")

    return app


def services() -> IvrServices:
    svc: IvrServices = current_app.extensions["huifang"]
    return svc


def signatures() -> SignatureCheck:
    check: SignatureCheck = current_app.extensions["huifang.signatures"]
    return check


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per request, rolled back unless the handler says `session.commit()` (invariant 2)."""
    with storage_unit_of_work(services().sessions) as session:
        yield session
