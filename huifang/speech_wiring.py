"""Builds the speech parts from settings (speech/ itself knows nothing of huifang's config)."""

from __future__ import annotations

from pathlib import Path

from kit.settings import SpeechSettings
from speech.asr import AnswerRecognizer, RecognizerSettings, VoskModel, resolve_model_path
from speech.cache import PromptCache
from speech.lexicon import load_lexicon
from speech.tts import ENGINE_RECORD, EspeakTts, VoiceSettings


def build_tts(settings: SpeechSettings, engine_record: Path | None = None) -> EspeakTts:
    return EspeakTts(VoiceSettings(voices=dict(settings.voices), rate=settings.rate, pitch=settings.pitch),
                     engine_record=engine_record)


def build_prompt_cache(settings: SpeechSettings) -> PromptCache:
    """The prompt cache, its engine versions recorded beside it: a host that only serves prompts rendered
    before (the web app) computes their keys without starting espeak-ng."""
    root = Path(settings.prompt_cache_dir)
    return PromptCache(root, build_tts(settings, engine_record=root / ENGINE_RECORD))


def build_recognizer(settings: SpeechSettings, language: str | None = None,
                     model: VoskModel | None = None) -> AnswerRecognizer:
    """A recogniser for `language` (default: speech.language), its model loaded and grammar built now."""
    model = model or VoskModel(resolve_model_path(settings.vosk_model_path))
    lexicon_dir = Path(settings.lexicon_dir) if settings.lexicon_dir else None
    recognizer = AnswerRecognizer(
        model,
        load_lexicon(language or settings.language, lexicon_dir),
        RecognizerSettings(min_confidence=settings.min_confidence,
                           min_yes_no_confidence=settings.min_yes_no_confidence, silence_dbfs=settings.silence_dbfs,
                           min_speech_ms=settings.min_speech_ms, max_unexplained_ms=settings.max_unexplained_ms,
                           max_syllable_ms=settings.max_syllable_ms),
    )
    recognizer.start()
    return recognizer
