"""Wiring for the web app: settings → the IVR's services → the Flask app (`huifang serve`, WSGI servers)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask

from api.routes import ApiContext, mount_api
from console.app import mount_console
from console.context import ConsoleContext
from ecallback.web import EcallbackContext, mount_ecallback
from flows.library import load_library
from huifang.app import App, build_app
from huifang.flows_cmd import flows_path
from huifang.serving.asr import MeteredRecognizer
from huifang.speech_wiring import build_prompt_cache, build_recognizer
from ivr.app import create_app as create_ivr_app
from ivr.capture import AnswerCapture, KeypadCapture, Recognizer, RecordCapture
from ivr.prompts import PromptIndex
from ivr.services import IvrServices
from ivr.stream_services import StreamServices
from kit.settings import Settings
from kit.vocab import CallbackChannel
from qa.reviews import model_name
from recordings.media import MediaClient
from recordings.store import FileStore
from speech.cache import Renderer
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
    media = MediaClient.from_settings(settings.twilio, settings.recordings, sleep=sleep)
    ivr = settings.ivr
    capture: AnswerCapture
    if recognizer is None and settings.speech.vosk_model_path and with_asr:
        recognizer = MeteredRecognizer(build_recognizer(settings.speech))
    if recognizer is not None:
        capture = RecordCapture(recognizer, media, timeout_s=ivr.record_timeout_s, max_length_s=ivr.record_max_length_s,
                                fetch_attempts=ivr.answer_fetch_attempts, fetch_wait_s=ivr.answer_fetch_wait_s,
                                model=model_name(settings.speech.vosk_model_path) or "")
    else:
        if with_asr:
            log.warning("speech.vosk_model_path is empty: answers are taken by keypad only")
        capture = KeypadCapture(timeout_s=ivr.gather_timeout_s)
    if with_asr and CallbackChannel.ECALLBACK in settings.channels.sequence and settings.sms.provider == "outbox":
        log.warning("channels.sequence names ecallback but sms.provider is outbox: e-callback links and codes are "
                    "kept in the database (huifang sms outbox), not sent; set sms.provider = \"twilio\"")
    return IvrServices(
        settings=settings,
        clock=app.clock,
        calendar=app.calendar,
        sessions=make_session_factory(app.engine),
        library=library,
        prompts=PromptIndex(build_prompt_cache(settings.speech, renderer), ivr.public_base_url),
        capture=capture,
        media=media,
        files=FileStore(Path(settings.recordings.root)),
        streams=build_streams(settings, recognizer) if with_asr else None,
    )


def build_streams(settings: Settings, recognizer: Recognizer | None) -> StreamServices | None:
    """Streamed capture (ivr.capture = "stream"): needs a recogniser; without one, answers are by keypad."""
    ivr = settings.ivr
    if ivr.capture != "stream":
        return None
    if recognizer is None:
        log.warning("ivr.capture = stream needs speech.vosk_model_path: answers are taken by keypad only")
        return None
    from huifang.serving.metrics import StreamMetrics

    if settings.web.workers > 1:
        log.warning("ivr.capture = stream with web.workers = %d: a key taken by another worker re-arms a call's stream "
                    "only when it next reads the call (each second); prefer web.workers = 1 with enough web.threads",
                    settings.web.workers)
    from ivr.agent_links import secret_for
    from ivr.stream_capture import StreamCapture, StreamTokens
    from ivr.stream_services import TwilioCallUpdater
    from ivr.stream_session import DecodeSlots, StreamSettings
    from speech.stream import EndpointSettings

    asr = settings.speech
    endpoint = EndpointSettings(silence_dbfs=asr.silence_dbfs, end_silence_ms=ivr.stream_end_silence_ms,
                                max_answer_ms=ivr.stream_max_answer_ms)
    twilio = settings.twilio
    return StreamServices(
        capture=StreamCapture(timeout_s=ivr.stream_gather_timeout_s),
        tokens=StreamTokens(secret_for(ivr.agent_page_secret, twilio.auth_token + ":media-stream")),
        recognizer=recognizer,
        updater=TwilioCallUpdater(twilio.account_sid, twilio.auth_token, twilio.api_base_url),
        settings=StreamSettings(endpoint=endpoint, max_lag_ms=ivr.stream_max_lag_ms,
                                model=model_name(asr.vosk_model_path) or ""),
        start_timeout_ms=ivr.stream_start_timeout_ms,
        events=StreamMetrics(),
        slots=DecodeSlots(ivr.stream_decode_slots or len(os.sched_getaffinity(0))),
    )


MIN_SECRET_KEY = 32
SECRET_KEY_MISSING = ("the console needs a secret key: set HUIFANG_SECRET_KEY (at least 32 random characters) or "
                      "HUIFANG_SECRET_KEY_FILE (a file holding it); to serve the Twilio webhooks alone, pass "
                      "--webhooks-only (huifang serve) or set HUIFANG_WEBHOOKS_ONLY=1")


def secret_key(environ: Mapping[str, str]) -> str | None:
    """The console's secret key from HUIFANG_SECRET_KEY, else the file named by HUIFANG_SECRET_KEY_FILE; never
    a default."""
    key = environ.get("HUIFANG_SECRET_KEY", "").strip()
    path = environ.get("HUIFANG_SECRET_KEY_FILE", "").strip()
    if not key and path:
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"HUIFANG_SECRET_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    if key and len(key) < MIN_SECRET_KEY:
        raise ValueError(f"HUIFANG_SECRET_KEY: the console's secret key must be at least {MIN_SECRET_KEY} characters")
    return key or None


def compose(app: App, services: IvrServices, secret: str | None, metrics_token: str | None = None) -> Flask:
    """The web app: Twilio's webhooks, the core system's API (/api/v1), and the console beside them when there is
    a secret key; /healthz,
    /readyz, /metrics (behind `metrics_token`), request logs, metrics and security headers on every route."""
    from huifang.serving.checks import Readiness
    from huifang.serving.db_metrics import DatabaseCollector
    from huifang.serving.http import install

    web = create_ivr_app(services)
    if secret is not None:
        ctx = ConsoleContext(app.settings, app.clock, app.calendar, services.sessions, calls=services.calls,
                             prompts=services.prompts.cache)
        mount_console(web, ctx, secret, https=app.settings.ivr.public_base_url.startswith("https://"))
        mount_ecallback(web, EcallbackContext.build(services.sessions, services.calls, services.files))  # /e/<token>: CSRF too
    mount_api(web, ApiContext(app.settings, app.clock, app.calendar, services.sessions))  # keys, no console secret
    recognizer = getattr(services.capture, "recognizer", None)
    readiness = Readiness(app.engine, Path(app.settings.speech.prompt_cache_dir),
                          asr_configured=bool(app.settings.speech.vosk_model_path),
                          asr_loaded=lambda: bool(getattr(recognizer, "model_loaded", False)),
                          timeout_s=app.settings.metrics.db_timeout_s)
    install(web, readiness=readiness, metrics_token=metrics_token,
            collectors=[DatabaseCollector(services.sessions, app.clock, app.settings.metrics.db_timeout_s)],
            max_content_length=app.settings.web.max_content_length)
    return web


def create_app(config_path: str | None = None) -> Flask:
    """For WSGI servers: `gunicorn 'huifang.web:create_app()'` (config from ./config.toml and the environment).
    The console needs a secret key (HUIFANG_SECRET_KEY or HUIFANG_SECRET_KEY_FILE); without one the app does
    not start, unless HUIFANG_WEBHOOKS_ONLY=1 asks for the webhooks alone."""
    from huifang.serving.metrics import metrics_token

    app = build_app(Path(config_path) if config_path else None)
    secret = secret_key(os.environ)
    if secret is None and os.environ.get("HUIFANG_WEBHOOKS_ONLY") != "1":
        raise ValueError(SECRET_KEY_MISSING)
    return compose(app, build_services(app), secret, metrics_token(os.environ))
