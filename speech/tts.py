"""Offline TTS: pyttsx3 over espeak-ng, rendered to telephone WAV (8 kHz, mono, 16-bit PCM, peak-normalised).

espeak-ng keeps one synthesiser per process and pyttsx3 drives it through a callback, so renders are
serialised with a process-wide lock (bench/tts.py measures this against other ways; prompts are rendered
ahead of calls, never inside a webhook).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech.audio import TELEPHONE_RATE, Audio, normalise, read_wav, resample

APT_HINT = "install the Debian/Ubuntu package espeak-ng (apt-get install espeak-ng)"
OUTPUT_FORMAT = "wav-8000-s16-mono-peak-3dBFS"

_ENGINE_LOCK = threading.Lock()


class TtsUnavailable(RuntimeError):
    """espeak-ng or a configured voice is missing; the message names what to install."""


@dataclass(frozen=True)
class VoiceSettings:
    """Which espeak-ng voice speaks each language, and how fast (words per minute) and how high (0–99)."""

    voices: Mapping[str, str] = field(default_factory=lambda: {"zh-CN": "sit/cmn", "ko-KR": "ko"})
    rate: int = 200
    pitch: int = 50


class EspeakTts:
    """Renders text with pyttsx3's espeak driver. Safe to call from many threads (renders are serialised)."""

    def __init__(self, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self._engine: Any = None
        self._voice_ids: frozenset[str] = frozenset()
        self._engine_version = ""

    def _load(self) -> Any:
        if self._engine is None:
            try:
                import pyttsx3

                engine = pyttsx3.init("espeak")
                from pyttsx3.drivers import _espeak

                espeak_version = _espeak.Info().decode()
            except (ImportError, OSError, RuntimeError) as exc:
                raise TtsUnavailable(f"cannot start espeak-ng through pyttsx3 ({exc}); {APT_HINT}") from exc
            self._voice_ids = frozenset(voice.id for voice in engine.getProperty("voices"))
            self._engine_version = f"pyttsx3 {importlib.metadata.version('pyttsx3')}, espeak-ng {espeak_version}"
            # pyttsx3 2.99's espeak driver returns from the first runAndWait of a process before a long
            # text is synthesised (the file is written later, or never); one short render first avoids it.
            with tempfile.TemporaryDirectory(prefix="huifang-tts-") as scratch:
                self._synthesise(engine, "。", Path(scratch) / "warm.wav")
            self._engine = engine
        return self._engine

    @staticmethod
    def _synthesise(engine: Any, text: str, target: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
            engine.save_to_file(text, str(target))
            engine.runAndWait()

    def voice_for(self, language: str) -> str:
        try:
            return self.settings.voices[language]
        except KeyError:
            known = ", ".join(sorted(self.settings.voices))
            raise TtsUnavailable(f"no voice configured for language {language!r} (speech.voices has {known})") from None

    def check(self, languages: Iterable[str]) -> None:
        """Fail now, not at the first call, when espeak-ng or a language's voice is missing."""
        with _ENGINE_LOCK:
            self._load()
        for language in languages:
            voice = self.voice_for(language)
            if voice not in self._voice_ids:
                raise TtsUnavailable(
                    f"espeak-ng has no voice {voice!r} for {language} (speech.voices); {APT_HINT} "
                    "with its voice data (espeak-ng-data)"
                )

    def identity(self, language: str, rate: int | None = None, pitch: int | None = None) -> str:
        """Everything that changes the rendered audio, for cache keys."""
        with _ENGINE_LOCK:
            self._load()
        return (
            f"{self._engine_version}; voice={self.voice_for(language)}; rate={rate or self.settings.rate}; "
            f"pitch={self.settings.pitch if pitch is None else pitch}; out={OUTPUT_FORMAT}"
        )

    def render(self, text: str, language: str, rate: int | None = None, pitch: int | None = None) -> Audio:
        """Speak `text` and return telephone audio."""
        if not text.strip():
            raise ValueError("nothing to render: the prompt text is empty")
        self.check([language])
        voice = self.voice_for(language)
        with tempfile.TemporaryDirectory(prefix="huifang-tts-") as scratch, _ENGINE_LOCK:
            engine = self._load()
            target = Path(scratch) / "out.wav"
            # Set on the driver itself, around the voice: pyttsx3 2.99 queues Engine.setProperty and applies
            # only the first value of a process, and espeak-ng sometimes keeps the old rate when it is set on
            # one side of a voice change only (tests/speech/test_tts.py pins both).
            driver = engine.proxy._driver
            prosody = (("rate", rate or self.settings.rate), ("pitch", self.settings.pitch if pitch is None else pitch))
            for name, value in (*prosody, ("voice", voice), *prosody):
                driver.setProperty(name, value)
            raw = None
            for _ in range(2):  # pyttsx3 2.99 now and then returns before espeak-ng has spoken: once more
                target.unlink(missing_ok=True)
                self._synthesise(engine, text, target)
                if target.is_file():
                    raw = read_wav(target.read_bytes())
                    if raw.seconds >= 0.05:
                        break
            if raw is None or raw.seconds < 0.05:
                raise TtsUnavailable(f"espeak-ng produced no audio for {text[:20]!r}; {APT_HINT}")
        return normalise(resample(raw, TELEPHONE_RATE))
