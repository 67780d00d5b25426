"""What the streamed-call harness tests share: the Korean test flow and model (the only packaged Vosk model),
one app built for `record` or `stream` capture on the test database, and the harness serving it on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from flows.library import load_library
from huifang.web import build_streams
from ivr.capture import RecordCapture
from ivr.harness.local import LocalHarness
from ivr.harness.media import InjectedRecognizer
from speech.asr import AnswerRecognizer
from speech.cache import PromptCache
from speech.lexicon import load_lexicon
from speech.tts import EspeakTts
from tests.ivr.conftest import Ivr, build_ivr
from tests.speech.clips import ReproducibleAnswers

KO_FLOWS = Path(__file__).parent / "ko_flows"


@contextmanager
def korean_harness(engine: Engine, tmp_path: Path, prompt_cache: PromptCache, recognizer: AnswerRecognizer,
                   capture: str = "stream") -> Iterator[tuple[LocalHarness, Ivr]]:
    """The IVR on the Korean flow, answers heard by the real Vosk path; `capture` stream: served on loopback
    with the Media Streams peer and the call-update endpoint."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    ivr = build_ivr(engine, tmp_path, prompt_cache, capture=capture)
    library = load_library(KO_FLOWS)
    assert library.ok, library.errors
    svc = ivr.svc
    record = svc.capture
    assert isinstance(record, RecordCapture)
    svc.library = library
    svc.capture = dataclasses.replace(record, recognizer=recognizer)
    svc.streams = build_streams(svc.settings, recognizer)
    svc.__dict__.pop("calls", None)  # the call context reads the capture mode when it is built
    local = LocalHarness.build(svc, ivr.app, InjectedRecognizer())
    local.simulator.speaker = ReproducibleAnswers(EspeakTts(), load_lexicon("ko-KR"))
    if capture == "stream":
        local.serve_streams()
    try:
        yield local, ivr
    finally:
        local.close()
