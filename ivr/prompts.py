"""Prompt audio for <Play>: content-addressed files from the prompt cache, served at the public base URL.

Everything a call may say is rendered when the call is set up (`prepare`), before dialing, so a webhook
only hashes text and needs no TTS engine: the engine versions in the key come from the record beside the
cache (speech.tts). A prompt missing at webhook time is rendered there and counted (`late_renders`), so it
shows up in monitoring instead of failing the call.

Prompt URLs may be fetched without a signature (Twilio's <Play> sends none), and many carry personal data
such as the applicant's name: their names are an HMAC of text and voice under the server's secret
(speech.cache), so a URL can neither be guessed nor tested for a sentence ("is there a 赵敏女士?"). A
personal prompt (`personal`: a name, a date, a sum in it) is served under /prompts/private/, never publicly
cacheable; the others under /prompts/, cacheable by Twilio and any proxy.
Many threads (gunicorn gthread) share one index: its memory of keys on disk is kept under a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from speech.cache import PromptCache

log = logging.getLogger(__name__)
PRIVATE = "private/"  # the URL path of personal prompts, below /prompts/
ON_DISK_KEYS = 100_000  # prompt keys remembered as rendered (about 10 MB); forgotten all at once when full


class PromptIndex:
    def __init__(self, cache: PromptCache, public_base_url: str) -> None:
        self.cache = cache
        self.base_url = public_base_url
        self.late_renders = 0
        self._lock = threading.Lock()
        self._on_disk: set[str] = set()  # keys seen on disk (the cache is write-once): no stat per turn

    def url(self, text: str, language: str, personal: bool = False) -> str:
        """The prompt's URL. A prompt already on disk is only hashed: no render, no TTS worker."""
        key = self.cache.key(text, language)
        with self._lock:
            known = key in self._on_disk
        if not known:
            prompt = self.cache.get(text, language)
            key = prompt.key
            if prompt.rendered:
                log.warning("prompt rendered inside a webhook (not prepared before dialing): %.20s", text)
            with self._lock:
                self.late_renders += prompt.rendered
                if len(self._on_disk) >= ON_DISK_KEYS:  # dynamic prompts (names, sums) would grow it for ever
                    self._on_disk.clear()
                self._on_disk.add(key)
        return f"{self.base_url}/prompts/{PRIVATE}{key}.wav" if personal else f"{self.base_url}/prompts/{key}.wav"

    def prepare(self, texts: Iterable[str], language: str) -> int:
        """Render what is not cached yet; returns how many were rendered."""
        return sum(self.cache.get(text, language).rendered for text in texts)

    def file(self, key: str) -> Path | None:
        try:
            path = self.cache.path_for(key)
        except ValueError:
            return None
        return path if path.is_file() else None
