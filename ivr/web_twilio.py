"""Routes Twilio calls: the voice webhooks, status and recording callbacks; and the prompt audio it plays."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, send_file

from flows.engine import CallerInput, InputKind
from ivr import calls, recording, status
from ivr.app import services, signatures, unit_of_work
from ivr.capture import Heard
from ivr.services import IvrError
from recordings import service as recording_service

twilio = Blueprint("twilio", __name__, url_prefix="/twilio")
media = Blueprint("media", __name__)

TWIML = "application/xml"


@twilio.before_request
def _signed() -> None:
    if not signatures().valid(request):
        abort(403, "invalid or missing X-Twilio-Signature")


def _int_arg(name: str, required: bool = True) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise IvrError(f"missing query parameter {name}")
        return None
    if not raw.isdigit():
        raise IvrError(f"query parameter {name} must be a whole number, got {raw!r}")
    return int(raw)


def _twiml(body: str) -> Response:
    return Response(body, mimetype=TWIML)


@twilio.post("/voice/answer")
def voice_answer() -> Response:
    task_id = _int_arg("task", required=False)
    with unit_of_work() as session:
        return _twiml(calls.start(session, services(), request.form, task_id))


@twilio.post("/voice/turn")
def voice_turn() -> Response:
    svc = services()
    seq = _int_arg("seq")
    assert seq is not None
    call_sid = status.require(request.form, "CallSid")
    no_input = request.args.get("no_input") == "1"
    if request.form.get("RecordingUrl") and not request.form.get("Digits") and not no_input:
        # Fetching and recognising audio happens outside the transaction, and only for the current turn.
        with svc.sessions() as session:
            current = calls.is_current(session, svc, call_sid, seq)
        heard = svc.capture.read(request.form, no_input) if current else Heard(CallerInput(InputKind.SILENCE))
    else:
        heard = svc.capture.read(request.form, no_input)
    with unit_of_work() as session:
        return _twiml(calls.answer(session, svc, call_sid, seq, heard))


@twilio.post("/voice/dial")
def voice_dial() -> Response:
    seq = _int_arg("seq")
    assert seq is not None
    with unit_of_work() as session:
        return _twiml(calls.dial_ended(session, services(), request.form, seq))


@twilio.post("/voice/message")
def voice_message() -> Response:
    seq = _int_arg("seq")
    assert seq is not None
    with unit_of_work() as session:
        return _twiml(calls.message(session, services(), request.form, seq))


@twilio.post("/voice/status")
def voice_status() -> Response:
    task_id = _int_arg("task", required=False)
    with unit_of_work() as session:
        changed = status.on_status(session, services(), request.form, task_id)
    return Response("taken\n" if changed else "already taken\n", mimetype="text/plain")


@twilio.post("/recording")
def recording_callback() -> Response:
    svc = services()
    try:
        callback = recording_service.RecordingCallback.parse(request.form)
    except recording_service.BadCallback as exc:
        raise IvrError(str(exc)) from exc
    with unit_of_work() as session:
        pending = recording.announce(session, svc, callback)
    if pending:  # after the commit, no transaction open: the announcement is safe even if the download fails
        recording.store(svc, callback)
    return Response("taken\n", mimetype="text/plain")


@media.get("/prompts/<key>.wav")
def prompt_audio(key: str) -> Response:
    path = services().prompts.file(key)
    if path is None:
        abort(404, f"no prompt {key}")
    response = send_file(path, mimetype="audio/wav", max_age=86400)
    return response
