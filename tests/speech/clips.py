"""Reproducible spoken clips for tests that sit near a recogniser threshold.

espeak-ng's waveform depends on what its worker rendered before, and a clip near a threshold then decodes
one way after some tests and another after others. Each clip here is the first render of a fresh worker
(about 0.1 s), kept for the session, so a test hears the same samples in any order and on every run.
"""

from __future__ import annotations

import functools

from speech.audio import Audio
from speech.samples import speak
from speech.tts import EspeakTts, restart_worker


@functools.cache
def _clip(text: str, language: str, rate: int, pitch: int, snr_db: float | None, seed: int) -> Audio:
    restart_worker()
    return speak(EspeakTts(), text, language, rate, pitch, snr_db, seed)


def fresh_speak(
    tts: EspeakTts, text: str, language: str, rate: int, pitch: int, snr_db: float | None, seed: int,
) -> Audio:
    """speech.samples.speak, rendered by a fresh worker with the default voices (`tts` must use them)."""
    assert tts.settings == EspeakTts().settings, "reproducible clips use the default voice settings"
    return _clip(text, language, rate, pitch, snr_db, seed)
