"""Builds the speech parts from settings (speech/ itself knows nothing of huifang's config)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kit.settings import SpeechSettings
from speech.asr import AnswerRecognizer, RecognizerSettings, VoskModel, resolve_model_path
from speech.cache import PromptCache, Renderer
from speech.lexicon import load_lexicon
from speech.tts import ENGINE_RECORD, EspeakTts, VoiceSettings

KEY_FILE = "url.key"  # beside the prompt cache: the random key of its names when no secret is configured


def build_tts(settings: SpeechSettings, engine_record: Path | None = None) -> EspeakTts:
    return EspeakTts(VoiceSettings(voices=dict(settings.voices), rate=settings.rate, pitch=settings.pitch),
                     engine_record=engine_record)


def build_prompt_cache(settings: SpeechSettings, renderer: Renderer | None = None) -> PromptCache:
    """The prompt cache, its engine versions recorded beside it: a host that only serves prompts rendered
    before (the web app) computes their keys without starting espeak-ng. Its names are keyed with
    `prompt_secret`, the same in every process that uses these settings (the dialer, the web app, the CLI)."""
    root = Path(settings.prompt_cache_dir)
    return PromptCache(root, renderer or build_tts(settings, engine_record=root / ENGINE_RECORD),
                       secret=prompt_secret(settings))


def prompt_secret(settings: SpeechSettings) -> bytes:
    """speech.prompt_url_secret, else the random key kept in the prompt cache (made once, mode 0600): every
    process sharing the cache shares it, as it shares the rendered files."""
    if settings.prompt_url_secret:
        return settings.prompt_url_secret.encode()
    root = Path(settings.prompt_cache_dir)
    try:
        return _kept_key(root)
    except OSError as exc:
        raise ValueError(f"speech.prompt_cache_dir: cannot keep the prompt URL key in {root}: {exc.strerror} "
                         "(make the folder writable, or set speech.prompt_url_secret)") from None


def _kept_key(root: Path) -> bytes:
    path = root / KEY_FILE
    if not path.is_file():
        root.mkdir(mode=0o750, parents=True, exist_ok=True)
        scratch = root / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        handle = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            try:
                os.link(scratch, path)  # the first process to get here decides; the others read its key
            except FileExistsError:
                pass
        finally:
            scratch.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the prompt URL key is too short; delete the file to make a new one (every "
                         "prompt is rendered again)")
    return key.encode()


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
