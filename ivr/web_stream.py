"""The Media Streams WebSocket (`/twilio/stream`), Twilio's stream status callback, and the database side of a
stream session (issue 18, docs/streaming.md).

The WebSocket handshake must carry Twilio's signature of the stream URL; the `start` message must carry the
call's token (ivr.stream_capture.StreamTokens). Each message is handed to the call's StreamSession; nothing
is ever sent back (a one-way stream). Served by flask-sock: under gunicorn's gthread workers each live stream
holds one thread, so `web.threads` must cover the concurrent calls plus the webhooks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed, Server

from calls import streamed
from calls.inputs import Heard
from calls.streamed import Listening
from ivr.app import services, signatures, unit_of_work
from ivr.forms import call_sid_of, check_all, short
from ivr.services import IvrServices
from ivr.stream_capture import STATUS_PATH, STREAM_PATH, stream_url
from ivr.stream_session import StreamRefused, StreamSession
from recordings import service as recording_service
from speech.audio import Audio, write_wav
from storage.db import reconnecting
from storage.models import Policy

log = logging.getLogger(__name__)
stream = Blueprint("stream", __name__)
sock = Sock()
MAX_MESSAGE = 64 * 1024  # a media message is about 300 bytes; anything near this is not Twilio


@dataclass
class DatabasePort:
    """StreamPort on the database: each method is one transaction, committed before it returns."""

    svc: IvrServices

    def open(self, call_sid: str, detail: dict[str, Any]) -> Listening | None:
        with unit_of_work() as session:
            call = streamed.started(session, call_sid, self.svc.clock.now(), detail)
            if call is None:
                return None
            now = Listening(call.turn_seq, streamed.listening(call), True)
            session.commit()
        return now

    def where(self, call_sid: str) -> Listening | None:
        with self.svc.sessions() as session:
            return streamed.where(session, call_sid)

    @reconnecting
    def answer(self, call_sid: str, seq: int, heard: Heard, audio: Audio) -> str | None:
        svc = self.svc
        with unit_of_work() as session:
            twiml = streamed.answer(session, svc.calls, call_sid, seq, heard)
            if twiml is None:
                return None
            call = streamed.call_of(session, call_sid)
            policy = session.get(Policy, call.policy_id)
            assert policy is not None
            recording_service.keep_streamed_answer(
                session, svc.files, call, policy, seq, write_wav(audio), round(audio.seconds),
                f"stream:{heard.detail.get('stream_sid', '')}#{seq}", now=svc.clock.now(),
                settings=svc.settings.recordings)
            session.commit()
        return twiml

    @reconnecting
    def record_instead(self, call_sid: str, reason: str) -> str | None:
        with unit_of_work() as session:
            twiml = streamed.record_instead(session, self.svc.calls, call_sid, reason)
            session.commit()
        return twiml


@stream.before_request
def _signed() -> None:
    """Twilio signs the WebSocket handshake for the stream URL it opens (no query string, no parameters)."""
    if services().streams is None:
        abort(404, "this server does not take streamed answers (ivr.capture = record)")
    if not signatures().valid_for(request, stream_url(services().settings.ivr.public_base_url)):
        abort(403, "invalid or missing X-Twilio-Signature")


@sock.route(STREAM_PATH, bp=stream)
def media_stream(ws: Server) -> None:
    svc = services()
    streams = svc.streams
    assert streams is not None
    session = StreamSession(DatabasePort(svc), streams.updater, streams.recognizer, streams.tokens,
                            streams.settings, streams.events)
    try:
        while not session.closed:
            data = ws.receive()
            if data is None:
                continue
            try:
                message = json.loads(data)
            except ValueError:
                streams.events.count("bad_message")
                continue
            if not isinstance(message, dict):
                streams.events.count("bad_message")
                continue
            known = bool(session.call_sid)
            session.feed(message)
            if session.call_sid and not known:
                streams.registry.add(session.call_sid, session)
    except StreamRefused as exc:
        log.warning("media stream refused: %s", exc)
    except ConnectionClosed:
        session.close("abrupt")
        if session.call_sid and not session.recording:  # no stop message: the call may go on without its stream
            session.record_instead("the stream closed without a stop message", "fallback_closed")
    finally:
        if session.call_sid:
            streams.registry.remove(session.call_sid, session)


def mount_streams(app: Any) -> None:
    """The WebSocket route on the app (its size limit from SOCK_SERVER_OPTIONS)."""
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MAX_MESSAGE})
    app.register_blueprint(stream)
    sock.init_app(app)


def stream_status() -> Response:
    """Twilio's stream status callback (stream-started | stream-stopped | stream-error): on an error the call
    records its answers instead. Registered on the signed twilio blueprint (ivr.web_twilio)."""
    check_all(request.form.items(multi=True))
    call_sid = call_sid_of(request.form)
    event = short(request.form, "StreamEvent")
    svc = services()
    if event == "stream-error" and svc.streams is not None:
        reason = f"stream error: {short(request.form, 'StreamError', 200) or 'not given'}"
        twiml = DatabasePort(svc).record_instead(call_sid, reason)
        svc.streams.events.count("fallback_error")
        if twiml is not None:  # after the commit: the REST call holds no transaction
            svc.streams.updater.redirect(call_sid, twiml)
    return Response("taken\n", mimetype="text/plain")


STATUS_ROUTE = STATUS_PATH.removeprefix("/twilio")
