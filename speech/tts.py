"""Offline TTS: pyttsx3 over espeak-ng, rendered to telephone WAV (8 kHz, mono, 16-bit PCM, peak-normalised).

espeak-ng keeps one synthesiser per process and pyttsx3 drives it through a callback, so renders are
serialised, one at a time, in a worker process of their own (speech.tts_worker): an espeak-ng crash kills
the worker, not the caller, and the render is tried once more in a fresh worker. Prompts are rendered
ahead of calls (bench/tts.py measures this against other ways), never inside a webhook.

The engine versions are part of every prompt's cache key, and only a worker can tell them (espeak-ng
reports its version through its library). So that a web host can serve prompts rendered elsewhere without
espeak-ng, the versions a worker greeted with are recorded beside the prompt cache (`engine_record`);
a process that has no worker takes the identity from that record and starts none.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from speech.audio import TELEPHONE_RATE, Audio, normalise, read_wav, resample

log = logging.getLogger(__name__)
APT_HINT = "install the Debian/Ubuntu package espeak-ng (apt-get install espeak-ng)"
OUTPUT_FORMAT = "wav-8000-s16-mono-peak-3dBFS"
START_TIMEOUT_S = 30.0
RENDER_TIMEOUT_S = 60.0
ENGINE_RECORD = "engine.json"  # beside the prompt cache: the engine versions that rendered it


class TtsUnavailable(RuntimeError):
    """espeak-ng or a configured voice is missing or failing; the message names what to install."""


class _WorkerDied(Exception):
    pass


class _Worker:
    """One `python -m speech.tts_worker` child; `ask` sends a request line and waits for the answer line."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "speech.tts_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        greeting = self._read(START_TIMEOUT_S)
        if "error" in greeting:
            self.close()
            raise TtsUnavailable(f"{greeting['error']}; {APT_HINT}")
        self.version: str = greeting["version"]
        self.voice_ids = frozenset(greeting["voices"])

    def ask(self, request: Mapping[str, Any]) -> dict[str, Any]:
        stdin = self._pipe(self.process.stdin)
        try:
            stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerDied(f"the TTS worker is gone ({exc})") from exc
        return self._read(RENDER_TIMEOUT_S)

    def _read(self, timeout: float) -> dict[str, Any]:
        stdout = self._pipe(self.process.stdout)
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else b""
        if not line:
            self.close()
            why = "did not answer in time" if not ready else f"exited with {self.process.returncode}"
            raise _WorkerDied(f"the TTS worker {why}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    @staticmethod
    def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
        assert pipe is not None  # both are PIPE
        return pipe

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_LOCK = threading.Lock()
_worker: _Worker | None = None
_version: str | None = None  # pyttsx3 + espeak-ng versions, known once a worker has greeted (never changes)


def _ask(request: Mapping[str, Any] | None) -> tuple[_Worker, dict[str, Any]]:
    """Send `request` (None: only make sure a worker runs) to this process's worker; call with _LOCK held.

    A worker that died (crash, kill, fork) is replaced, and the request tried once more in the new one.
    """
    global _worker, _version  # noqa: PLW0603 - one worker per process, like one espeak-ng per process
    last: _WorkerDied | None = None
    for _ in range(2):
        if _worker is None or not _worker.alive():
            _worker = _Worker()
            _version = _worker.version
        if request is None:
            return _worker, {}
        try:
            return _worker, _worker.ask(request)
        except _WorkerDied as exc:
            last, _worker = exc, None
    text = str((request or {}).get("text", ""))[:20]
    raise TtsUnavailable(f"espeak-ng failed twice rendering {text!r}: {last}; {APT_HINT}")


def restart_worker() -> None:
    """Stop this process's worker; the next render starts a fresh one. espeak-ng carries its waveform state
    from one render to the next (the same request never gives the same samples twice in one worker), so only a
    fresh worker's first render is reproducible: tests that need the same clip on every run use this."""
    global _worker  # noqa: PLW0603 - see _ask
    with _LOCK:
        if _worker is not None and _worker.alive():
            _worker.close()
        _worker = None


def worker_pid() -> int | None:
    """The process id of this process's TTS worker, if one runs (for tests and diagnostics)."""
    with _LOCK:
        return _worker.process.pid if _worker is not None and _worker.alive() else None


@dataclass(frozen=True)
class VoiceSettings:
    """Which espeak-ng voice speaks each language, and how fast (words per minute) and how high (0–99)."""

    voices: Mapping[str, str] = field(default_factory=lambda: {"zh-CN": "sit/cmn", "ko-KR": "ko"})
    rate: int = 200
    pitch: int = 50


class EspeakTts:
    """Renders text with pyttsx3's espeak driver in the worker process. Safe from many threads (serialised).

    `engine_record`: a file where the engine versions are kept between processes (the composition root puts
    it beside the prompt cache). Without it, the first `identity` of a process starts a worker."""

    def __init__(self, settings: VoiceSettings | None = None, engine_record: Path | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self.engine_record = engine_record
        self._record_lock = threading.Lock()
        self._recorded: str | None = None  # what the record says, as last read or written
        self._record_read = False

    def voice_for(self, language: str) -> str:
        try:
            return self.settings.voices[language]
        except KeyError:
            known = ", ".join(sorted(self.settings.voices))
            raise TtsUnavailable(f"no voice configured for language {language!r} (speech.voices has {known})") from None

    def check(self, languages: Iterable[str]) -> None:
        """Fail now, not at the first call, when espeak-ng or a language's voice is missing."""
        with _LOCK:
            worker, _ = _ask(None)
        self._remember(worker.version)
        for language in languages:
            voice = self.voice_for(language)
            if voice not in worker.voice_ids:
                raise TtsUnavailable(
                    f"espeak-ng has no voice {voice!r} for {language} (speech.voices); {APT_HINT} "
                    "with its voice data (espeak-ng-data)"
                )

    def engine_version(self) -> str:
        """The pyttsx3 and espeak-ng versions. This process's worker knows them once it has greeted; before
        that, the engine record does (no worker, no espeak-ng); only when neither does is a worker started."""
        live = _version
        if live is not None:
            if self.engine_record is not None and live != self._recorded:
                self._remember(live)
            return live
        if not self._record_read:
            with self._record_lock:
                if not self._record_read:
                    self._recorded, self._record_read = self._read_record(), True
        if self._recorded is not None:
            return self._recorded
        with _LOCK:
            live = _ask(None)[0].version
        self._remember(live)
        return live

    def reload_identity(self) -> bool:
        """Read the engine record again (a renderer elsewhere may have an upgraded engine); True when the
        identity changed. The prompt cache calls it before rendering a prompt it did not find."""
        if _version is not None or self.engine_record is None:
            return False
        with self._record_lock:
            before = self._recorded
            self._recorded, self._record_read = self._read_record(), True
            return self._recorded is not None and self._recorded != before

    def identity(self, language: str, rate: int | None = None, pitch: int | None = None) -> str:
        """Everything that changes the rendered audio, for cache keys. Called for every prompt of every
        webhook: once the engine version is known (from the worker or the record) it takes no lock."""
        return (
            f"{self.engine_version()}; voice={self.voice_for(language)}; rate={rate or self.settings.rate}; "
            f"pitch={self.settings.pitch if pitch is None else pitch}; out={OUTPUT_FORMAT}"
        )

    def _read_record(self) -> str | None:
        if self.engine_record is None:
            return None
        try:
            engine = json.loads(self.engine_record.read_text(encoding="utf-8"))["engine"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the TTS engine record %s (%s)", self.engine_record, exc)
            return None
        return engine if isinstance(engine, str) and engine else None

    def _remember(self, version: str) -> None:
        """Record what a worker greeted with, when the record says otherwise (atomically: temporary file,
        then rename). A record that cannot be written (read-only cache) is logged, not fatal."""
        if self.engine_record is None or (self._record_read and self._recorded == version):
            return
        with self._record_lock:
            if not self._record_read:
                self._recorded, self._record_read = self._read_record(), True
            if self._recorded == version:
                return
            self._recorded = version  # also when the write fails: this process knows, and tries once
            path = self.engine_record
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, scratch = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
                try:
                    with os.fdopen(handle, "w", encoding="utf-8") as out:
                        json.dump({"engine": version}, out, ensure_ascii=False)
                    os.replace(scratch, path)
                except BaseException:
                    Path(scratch).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                log.warning("cannot record the TTS engine versions in %s (%s)", path, exc)

    def render(self, text: str, language: str, rate: int | None = None, pitch: int | None = None) -> Audio:
        """Speak `text` and return telephone audio."""
        if not text.strip():
            raise ValueError("nothing to render: the prompt text is empty")
        self.check([language])
        voice = self.voice_for(language)
        request = {
            "text": text,
            "voice": voice,
            "rate": rate or self.settings.rate,
            "pitch": self.settings.pitch if pitch is None else pitch,
        }
        with tempfile.TemporaryDirectory(prefix="huifang-tts-") as scratch:
            target = Path(scratch) / "out.wav"
            with _LOCK:
                _, answer = _ask({**request, "path": str(target)})
            if "error" in answer:
                raise TtsUnavailable(f"{answer['error']}; {APT_HINT}")
            raw = read_wav(target.read_bytes())
        return normalise(resample(raw, TELEPHONE_RATE))
