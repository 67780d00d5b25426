"""A content-addressed prompt cache: one WAV per (text, language, voice, rate, pitch, engine version).

Files are written atomically (temporary file, then rename), so concurrent renders of the same prompt, in
threads or processes, leave one complete file and a reader never sees half of one. A prompt on disk costs
a hash and a stat; only a missing prompt is rendered.

A prompt's name is an HMAC of that material under a secret the caller passes in (the composition root keeps
it; this package knows nothing of configuration): the names are served as URLs, and an unsalted hash would
let anyone test whether a sentence with a customer's name in it was ever rendered. Without a secret (tools
and benchmarks) the name is the plain SHA-256. Folders are 0750 and files 0640: prompts hold names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from speech.audio import Audio, write_wav


class Renderer(Protocol):
    def identity(self, language: str) -> str: ...

    def render(self, text: str, language: str) -> Audio: ...


@runtime_checkable
class ReloadableRenderer(Renderer, Protocol):
    """A renderer whose identity comes from a record that another process may have changed meanwhile."""

    def reload_identity(self) -> bool: ...  # True when the identity changed


@dataclass(frozen=True)
class CachedPrompt:
    key: str
    path: Path
    rendered: bool  # False when the file was already in the cache

    @property
    def filename(self) -> str:
        return self.path.name


DIR_MODE = 0o750
FILE_MODE = 0o640


class PromptCache:
    def __init__(self, root: Path, renderer: Renderer, secret: bytes | None = None) -> None:
        self.root = root
        self.renderer = renderer
        self._secret = secret

    def key(self, text: str, language: str) -> str:
        material = json.dumps([text, language, self.renderer.identity(language)], ensure_ascii=False).encode()
        if self._secret is None:
            return hashlib.sha256(material).hexdigest()
        return hmac.new(self._secret, b"prompt:" + material, hashlib.sha256).hexdigest()

    def path_for(self, key: str) -> Path:
        if len(key) != 64 or any(ch not in "0123456789abcdef" for ch in key):
            raise ValueError(f"not a prompt key: {key!r}")
        return self.root / key[:2] / f"{key}.wav"

    def get(self, text: str, language: str) -> CachedPrompt:
        """The prompt's audio file, rendering it only when it is not cached yet."""
        key = self.key(text, language)
        path = self.path_for(key)
        if path.is_file():
            return CachedPrompt(key, path, rendered=False)
        if isinstance(self.renderer, ReloadableRenderer) and self.renderer.reload_identity():
            key = self.key(text, language)
            path = self.path_for(key)
            if path.is_file():
                return CachedPrompt(key, path, rendered=False)
        data = write_wav(self.renderer.render(text, language))
        key = self.key(text, language)  # the render may have started an engine other than the recorded one
        path = self.path_for(key)
        _folders(path.parent, self.root)
        handle, scratch = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                os.fchmod(out.fileno(), FILE_MODE)
            os.replace(scratch, path)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
        return CachedPrompt(key, path, rendered=True)


def _folders(folder: Path, root: Path) -> None:
    """Create `folder` (under `root`, and root itself) with DIR_MODE whatever the process's umask."""
    missing = [p for p in (folder, *folder.parents) if not p.exists() and (p == root or root in p.parents)]
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        path.chmod(DIR_MODE)
    folder.mkdir(parents=True, exist_ok=True)
