"""One web host for the process fault tests: the IVR app (as tests.ivr.conftest.build_ivr wires it, keypad capture)
on a werkzeug server on loopback, in a process of its own.

    python -m tests.ivr.harness.run_web DB_URL PROMPTS_DIR RECORDINGS_DIR FALLBACK_BASE_URL [--die-on SID:SEQ]

Prints `listening PORT` on stdout once it accepts connections, then serves until killed. --die-on: the turn
webhook of call SID for turn SEQ is handled to the end (its transaction committed), then the process kills
itself with SIGKILL before answering — a worker killed mid-call. The recordings Twilio announces are served by
a stand-in for Twilio's media API (any recording: one second of silence).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import signal
import sys
import wave
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server

from flows.library import load_library
from ivr.app import create_app
from ivr.capture import KeypadCapture
from ivr.prompts import PromptIndex
from ivr.services import IvrServices
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import ChannelSettings, IvrSettings, Settings, TwilioSettings
from kit.vocab import CallbackChannel
from recordings.media import MediaClient
from recordings.store import FileStore
from speech.cache import PromptCache
from speech.tts import ENGINE_RECORD, EspeakTts
from storage.db import make_engine, make_session_factory
from tests.conftest import NOW, PROMPT_SECRET
from tests.ivr.conftest import ACCOUNT, BASE, TOKEN

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class AnyRecording(BaseAdapter):
    """Twilio's media API for this process: every recording is there, one second of silence."""

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Mapping[str, str] | None = None,
             ) -> requests.Response:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\x00\x00\x00\x00" * 8000)
        response = requests.Response()
        response.request, response.url, response.status_code = request, request.url or "", 200
        response.headers = CaseInsensitiveDict({"Content-Type": "audio/x-wav"})
        response.raw = io.BytesIO(buffer.getvalue())
        return response

    def close(self) -> None:
        pass


class DieAfter:
    """Handles the chosen request to the end, then SIGKILLs this process before a byte of the answer is sent."""

    def __init__(self, app: WSGIApplication, call_sid: str, seq: str) -> None:
        self.app, self.call_sid, self.seq = app, call_sid, seq

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/twilio/voice/turn" or environ.get("QUERY_STRING") != f"seq={self.seq}":
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        if f"CallSid={self.call_sid}".encode() not in body:
            return self.app(environ, start_response)
        for _ in self.app(environ, lambda status, headers, exc_info=None: lambda data: None):
            pass
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("db_url", "prompts", "recordings", "fallback_base_url"):
        parser.add_argument(name)
    parser.add_argument("--die-on", default="")
    args = parser.parse_args(argv)
    settings = dataclasses.replace(
        Settings(), twilio=TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN),
        ivr=IvrSettings(public_base_url=BASE, agent_target="+861088880000", fallback_base_url=args.fallback_base_url))
    # recordings downloaded inside the callback (download_threads 0): the test stops this host right after a call
    settings = dataclasses.replace(settings, recordings=dataclasses.replace(settings.recordings, root=args.recordings,
                                                                            download_threads=0),
                                   channels=ChannelSettings(sequence=(CallbackChannel.PHONE,)))  # as build_ivr
    prompts = Path(args.prompts)
    media = MediaClient(ACCOUNT, TOKEN, sleep=lambda seconds: None)
    media.http.mount("https://api.twilio.com/", AnyRecording())
    svc = IvrServices(settings=settings, clock=FrozenClock(NOW), calendar=BusinessCalendar(settings.calendar),
                      sessions=make_session_factory(make_engine(args.db_url)), library=load_library(),
                      prompts=PromptIndex(PromptCache(prompts, EspeakTts(engine_record=prompts / ENGINE_RECORD),
                                                      secret=PROMPT_SECRET), BASE),
                      capture=KeypadCapture(), media=media, files=FileStore(Path(args.recordings)))
    app = create_app(svc)
    if args.die_on:
        sid, seq = args.die_on.split(":")
        app.wsgi_app = DieAfter(app.wsgi_app, sid, seq)  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening {server.server_port}", flush=True)  # noqa: T201 - the parent reads it
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
