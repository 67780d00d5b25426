"""Wiring for the web app: settings → the IVR's services → the Flask app (`huifang serve`, WSGI servers)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from console.app import mount_console
from console.context import ConsoleContext
from flows.library import load_library
from huifang.app import App, build_app
from huifang.flows_cmd import flows_path
from huifang.speech_wiring import build_prompt_cache, build_recognizer
from ivr.app import create_app as create_ivr_app
from ivr.capture import AnswerCapture, KeypadCapture, Recognizer, RecordCapture
from ivr.prompts import PromptIndex
from ivr.services import IvrServices
from recordings.media import MediaClient
from recordings.store import FileStore
from speech.cache import PromptCache, Renderer
from storage.db import make_session_factory

log = logging.getLogger(__name__)


def build_services(app: App, recognizer: Recognizer | None = None,
                   sleep: Callable[[float], None] = time.sleep, with_asr: bool = True,
                   renderer: Renderer | None = None) -> IvrServices:
    """Everything the webhooks need (the dialer: without ASR, to prepare prompts). A broken model path or
    flow library fails here, at start-up."""
    settings = app.settings
    library = load_library(flows_path(app))
    if not library.flows:
        raise ValueError(f"no valid flow in {flows_path(app)}: run huifang flows check")
    media = MediaClient(settings.twilio.account_sid, settings.twilio.auth_token, sleep=sleep)
    ivr = settings.ivr
    capture: AnswerCapture
    if recognizer is None and settings.speech.vosk_model_path and with_asr:
        recognizer = build_recognizer(settings.speech)
    if recognizer is not None:
        capture = RecordCapture(recognizer, media, timeout_s=ivr.record_timeout_s, max_length_s=ivr.record_max_length_s,
                                fetch_attempts=ivr.answer_fetch_attempts, fetch_wait_s=ivr.answer_fetch_wait_s)
    else:
        if with_asr:
            log.warning("speech.vosk_model_path is empty: answers are taken by keypad only")
        capture = KeypadCapture(timeout_s=ivr.gather_timeout_s)
    return IvrServices(
        settings=settings,
        clock=app.clock,
        calendar=app.calendar,
        sessions=make_session_factory(app.engine),
        library=library,
        prompts=PromptIndex(PromptCache(Path(settings.speech.prompt_cache_dir), renderer) if renderer
                            else build_prompt_cache(settings.speech), ivr.public_base_url),
        capture=capture,
        media=media,
        files=FileStore(Path(settings.recordings.root)),
    )


def create_app(config_path: str | None = None) -> Flask:
    """For WSGI servers: `gunicorn 'huifang.web:create_app()'` (config from ./config.toml and the environment).
    The console is mounted beside the webhooks when HUIFANG_SECRET_KEY is set."""
    app = build_app(Path(config_path) if config_path else None)
    services = build_services(app)
    web = create_ivr_app(services)
    secret = os.environ.get("HUIFANG_SECRET_KEY", "")
    if secret:
        mount_console(web, ConsoleContext(app.settings, app.clock, app.calendar, services.sessions), secret,
                      https=app.settings.ivr.public_base_url.startswith("https://"))
    else:
        log.warning("HUIFANG_SECRET_KEY is not set: the console is not served (webhooks only)")
    return web
