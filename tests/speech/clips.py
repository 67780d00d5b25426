"""Reproducible spoken clips for tests that sit near a recogniser threshold.

espeak-ng's waveform depends on what its worker rendered before, and a clip near a threshold then decodes
one way after some tests and another after others. Each clip here is the first render of a fresh worker
(about 0.1 s), kept for the session, so a test hears the same samples in any order and on every run.
"""

from __future__ import annotations

import functools

from ivr.harness.voice import SpokenAnswers
from speech.audio import Audio, write_wav
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


class ReproducibleAnswers(SpokenAnswers):
    """The harness's audio-mode callee (ivr.harness.voice.SpokenAnswers) speaking fresh-worker clips: the same
    samples in any test order (a recogniser near a threshold otherwise hears a 네 one way after some tests and
    another after others)."""

    def __call__(self, answer: str) -> bytes:
        if answer not in self._cache:
            clip = fresh_speak(self.tts, self.text_for(answer), self.lexicon.language, self.rate, self.pitch, None, 1)
            self._cache[answer] = write_wav(clip)
        return self._cache[answer]
