"""A streamed call whose stream never starts records its answers instead (issue 18's first fallback).

Two checks, either of which suffices: a timer set when the call is answered (`ivr.stream_start_timeout_ms`
later, the call's stream must have started), and the <Gather> timeout of a question on a call whose stream
never started (the caller may have spoken to nobody: the question is asked again with <Record>, not counted
as unanswered). Each runs in its own transaction; the REST redirect happens after it has committed.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from calls import streamed
from ivr.services import IvrServices
from storage.db import unit_of_work as storage_unit_of_work
from storage.repositories import calls as call_repo

log = logging.getLogger(__name__)


def reason(svc: IvrServices) -> str:
    return f"no stream start within {svc.settings.ivr.stream_start_timeout_ms} ms of the answer"


def never_started(session: Session, svc: IvrServices, call_sid: str, seq: int) -> str | None:
    """The <Gather> of turn `seq` timed out on a streamed call whose stream never started: the same question
    with <Record> (the call records from now on); None when the stream did start (or the call records)."""
    if svc.streams is None:
        return None
    call = call_repo.by_sid(session, call_sid, lock=True)
    if (call is None or call.capture != streamed.STREAM or call.turn_seq != seq
            or streamed.stream_started(session, call)):
        return None
    svc.streams.events.count("fallback_no_start")
    return streamed.record_instead(session, svc.calls, call_sid, reason(svc))


def expect_start(svc: IvrServices, call_sid: str) -> None:
    """After the answered-call webhook: check the stream started once its time is up."""
    streams = svc.streams
    if streams is None:
        return

    def check() -> None:
        try:
            check_started(svc, call_sid)
        except Exception:
            log.exception("could not check the stream of call %s", call_sid)

    streams.schedule(streams.start_timeout_ms / 1000, check)


def check_started(svc: IvrServices, call_sid: str) -> str | None:
    """The stream start check (run by the timer, or by a test): redirects the call to <Record> when its stream
    has not started; returns the document it was redirected to."""
    assert svc.streams is not None
    with storage_unit_of_work(svc.sessions) as session:
        call = call_repo.by_sid(session, call_sid, lock=True)
        if call is None or call.capture != streamed.STREAM or streamed.stream_started(session, call):
            return None
        svc.streams.events.count("fallback_no_start")
        twiml = streamed.record_instead(session, svc.calls, call_sid, reason(svc))
        session.commit()
    if twiml is not None:
        svc.streams.updater.redirect(call_sid, twiml)
    return twiml

