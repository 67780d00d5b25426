"""Routes Twilio calls: the voice webhooks, status and recording callbacks; and the prompt audio it plays."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, abort, request, send_file
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from calls import service as calls
from calls import status, streamed
from calls.errors import CallError
from calls.inputs import Answered, DialResult, Heard
from flows.engine import CallerInput, InputKind
from ivr import fallback, recording, stream_watch
from ivr.app import services, signatures, unit_of_work
from ivr.forms import call_sid_of, check_all, int_arg, require, short, status_report
from ivr.services import IvrError
from ivr.web_stream import STATUS_ROUTE, stream_status
from recordings import service as recording_service
from storage.db import reconnecting

log = logging.getLogger(__name__)
twilio = Blueprint("twilio", __name__, url_prefix="/twilio")
media = Blueprint("media", __name__)

TWIML = "application/xml"


@twilio.before_request
def _signed() -> None:
    """Every request signed for the URL Twilio requested: the fallback route on the fallback host."""
    base = services().settings.ivr.fallback_base if request.endpoint == "twilio.voice_fallback" else None
    if not signatures().valid(request, base):
        abort(403, "invalid or missing X-Twilio-Signature")
    check_all(request.args.items(multi=True), "query parameter")
    check_all(request.form.items(multi=True))


def _twiml(body: str) -> Response:
    return Response(body, mimetype=TWIML)


# Each voice webhook is a function of the query and the form, so the fallback route can answer for it; each is
# answered on a new database connection when the connection is lost under it (the database restarted).
Params = MultiDict[str, str]


@reconnecting
def answer(args: Params, form: Params) -> str:
    answered = Answered(call_sid_of(form), int_arg(args, "task", required=False),
                        short(form, "AnsweredBy") or None, short(form, "To"), short(form, "From"))
    with unit_of_work() as session:
        body = calls.start(session, services().calls, answered)
        streaming = streamed.call_of(session, answered.call_sid).capture == streamed.STREAM
        session.commit()
    if streaming:
        stream_watch.expect_start(services(), answered.call_sid)
    return body


@reconnecting
def turn(args: Params, form: Params) -> str:
    svc = services()
    seq = int_arg(args, "seq")
    assert seq is not None
    call_sid = call_sid_of(form)
    no_input = args.get("no_input") == "1"
    if form.get("RecordingUrl") and not form.get("Digits") and not no_input:
        # Fetching and recognising audio happens outside the transaction, and only for the current turn.
        with svc.sessions() as session:
            current = calls.is_current(session, call_sid, seq)
        heard = svc.capture.read(form, no_input) if current else Heard(CallerInput(InputKind.SILENCE))
    else:
        heard = svc.capture.read(form, no_input)
    if no_input and svc.streams is not None:
        unknown = svc.streams.registry.heard_unknown(call_sid, seq)
        if unknown is not None:  # the stream heard speech it did not trust: not silence
            heard = Heard(CallerInput(InputKind.UNKNOWN, text=str(unknown.get("text", ""))), unknown)
    with unit_of_work() as session:
        body = stream_watch.never_started(session, svc, call_sid, seq) if no_input else None
        if body is None:
            body = calls.advance(session, svc.calls, call_sid, seq, heard)
        session.commit()
    if svc.streams is not None:
        svc.streams.registry.turn_changed(call_sid)
    return body


@reconnecting
def dial(args: Params, form: Params) -> str:
    seq = int_arg(args, "seq")
    assert seq is not None
    result = DialResult(call_sid_of(form), require(form, "DialCallStatus"),
                        {k: form.get(k, "") for k in ("DialCallStatus", "DialCallSid", "DialCallDuration")})
    with unit_of_work() as session:
        body = calls.dial_ended(session, services().calls, seq, result)
        session.commit()
    return body


@reconnecting
def message(args: Params, form: Params) -> str:
    seq = int_arg(args, "seq")
    assert seq is not None
    call_sid = call_sid_of(form)
    detail = {k: form.get(k, "") for k in ("RecordingUrl", "RecordingSid", "RecordingDuration")}
    with unit_of_work() as session:
        body = calls.message(session, services().calls, call_sid, seq, detail)
        session.commit()
    return body


VOICE: dict[str, Callable[[Params, Params], str]] = {"answer": answer, "turn": turn, "dial": dial,
                                                       "message": message}  # fallback.ROUTES


@twilio.post("/voice/answer")
def voice_answer() -> Response:
    return _twiml(answer(request.args, request.form))


@twilio.post("/voice/turn")
def voice_turn() -> Response:
    return _twiml(turn(request.args, request.form))


@twilio.post("/voice/dial")
def voice_dial() -> Response:
    return _twiml(dial(request.args, request.form))


@twilio.post("/voice/message")
def voice_message() -> Response:
    return _twiml(message(request.args, request.form))


@twilio.post("/voice/fallback")
def voice_fallback() -> Response:
    """Twilio's FallbackUrl (twilio-facts §2.10): a voice webhook failed (5xx, no answer in 15 s, invalid TwiML);
    answer as it would have, from the stored state. A turn it had already taken is replayed, not taken again."""
    failed = fallback.failed_request(request.form, services().settings.ivr.public_base_url)
    call_sid = require(failed.form, "CallSid")
    log.warning("Twilio fell back for call %s: error %s at %s", call_sid, failed.error_code, failed.error_url)
    try:
        body = VOICE[failed.route](failed.args, failed.form)
    except (IvrError, CallError, HTTPException):
        raise  # a refusal (4xx) changes nothing
    except Exception:
        _note_fallback(call_sid, failed, answered=False)  # Twilio ends the call: not the caller's doing
        raise
    _note_fallback(call_sid, failed, answered=True)
    return _twiml(body)


def _note_fallback(call_sid: str, failed: fallback.FailedRequest, *, answered: bool) -> None:
    """Keep the fallback with the call's record, in a transaction of its own and at best effort: the answer to
    Twilio does not depend on it."""
    try:
        with unit_of_work() as session:
            calls.fell_back(session, services().calls, call_sid, failed.error_code, failed.error_url,
                            answered=answered)
            session.commit()
    except Exception:
        log.exception("could not note the fallback of call %s in its record", call_sid)


@twilio.post(STATUS_ROUTE)
def voice_stream_status() -> Response:
    return stream_status()


@twilio.post("/voice/status")
@reconnecting  # Twilio does not retry a failed status or recording callback
def voice_status() -> Response:
    report = status_report(request.form, int_arg(request.args, "task", required=False))
    with unit_of_work() as session:
        changed = status.on_status(session, services().calls, report)
        session.commit()
    return Response("taken\n" if changed else "already taken\n", mimetype="text/plain")


@twilio.post("/recording")
@reconnecting
def recording_callback() -> Response:
    svc = services()
    try:
        callback = recording_service.RecordingCallback.parse(request.form)
    except recording_service.BadCallback as exc:
        raise IvrError(str(exc)) from exc
    problem = svc.media.refusal(callback.url) if callback.url else None
    if problem is not None:  # the account's credentials are never sent off Twilio's hosts
        raise IvrError(f"parameter RecordingUrl refused: {problem}")
    with unit_of_work() as session:
        pending = recording.announce(session, svc, callback)
        session.commit()
    if pending:  # after the commit, no transaction open: the announcement is safe even if the download fails
        recording.store(svc, callback)
    return Response("taken\n", mimetype="text/plain")


@media.get("/prompts/<key>.wav")
def prompt_audio(key: str) -> Response:
    """A prompt that says nothing of anyone: Twilio and proxies may cache it."""
    return _prompt(key, public=True)


@media.get("/prompts/private/<key>.wav")
def private_prompt_audio(key: str) -> Response:
    """A prompt with a customer's details in it: fetched by Twilio for the call, never kept by a cache."""
    return _prompt(key, public=False)


def _prompt(key: str, *, public: bool) -> Response:
    path = services().prompts.file(key)
    if path is None:
        abort(404, "no such prompt")
    response = send_file(path, mimetype="audio/wav", max_age=86400 if public else None, conditional=public)
    if not public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
