"""Audio mode: the callee speaks its answers (espeak-ng in the flow's language), and the app hears them
through its real download-and-Vosk path."""

from __future__ import annotations

from dataclasses import dataclass, field

from speech.audio import write_wav
from speech.lexicon import Intent, Lexicon
from speech.samples import OUT_OF_GRAMMAR, speak
from speech.tts import EspeakTts

SAID = {"yes": Intent.YES, "no": Intent.NO, "human": Intent.HUMAN}


@dataclass
class SpokenAnswers:
    """WAV recordings of a callee saying each kind of answer: the lexicon's first phrase for an intent,
    an everyday phrase outside the grammar for `unintelligible`."""

    tts: EspeakTts
    lexicon: Lexicon
    rate: int = 170
    pitch: int = 50
    _cache: dict[str, bytes] = field(default_factory=dict)

    def text_for(self, answer: str) -> str:
        if answer == "unintelligible":
            return OUT_OF_GRAMMAR[self.lexicon.language][0]
        return self.lexicon.phrases[SAID[answer]][0]

    def __call__(self, answer: str) -> bytes:
        if answer not in self._cache:
            audio = speak(self.tts, self.text_for(answer), self.lexicon.language, self.rate, self.pitch, None, seed=1)
            self._cache[answer] = write_wav(audio)
        return self._cache[answer]
