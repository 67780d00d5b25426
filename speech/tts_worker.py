"""The TTS worker process: pyttsx3 over espeak-ng, one request at a time (`python -m speech.tts_worker`).

espeak-ng 1.51 is a C library with known crashes on some inputs (espeak-ng#1073, #2489; one hit this
project's CI inside espeak_Synth). Rendering in a child process keeps such a crash from taking the
dialer, the web app or a CLI command down with it: speech.tts restarts the worker and tries once more.

Protocol, one JSON object per line. The worker first writes a greeting, `{"version": ..., "voices": [...]}`
or `{"error": ...}` when espeak-ng cannot start. Then, for each request on stdin
`{"text", "voice", "rate", "pitch", "path"}`, it writes the WAV pyttsx3 produced (22.05 kHz) to `path`
and answers `{"ok": true}` or `{"error": ...}`. End of stdin ends the worker.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import os
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any, TextIO

MIN_SECONDS = 0.05  # a render shorter than this is pyttsx3 returning before espeak-ng spoke


def _synthesise(engine: Any, text: str, target: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
        engine.save_to_file(text, str(target))
        engine.runAndWait()


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _start() -> tuple[Any, dict[str, Any]]:
    import pyttsx3
    from pyttsx3.drivers import _espeak

    engine = pyttsx3.init("espeak")
    # pyttsx3 2.99's espeak driver returns from the first runAndWait of a process before a long text is
    # synthesised (the file is written later, or never); one short render first avoids it.
    with tempfile.TemporaryDirectory(prefix="huifang-tts-") as scratch:
        _synthesise(engine, "。", Path(scratch) / "warm.wav")
    greeting = {
        "version": f"pyttsx3 {importlib.metadata.version('pyttsx3')}, espeak-ng {_espeak.Info().decode()}",
        "voices": sorted(voice.id for voice in engine.getProperty("voices")),
    }
    return engine, greeting


def render(engine: Any, request: dict[str, Any]) -> dict[str, Any]:
    target = Path(request["path"])
    # Set on the driver itself, around the voice: pyttsx3 2.99 queues Engine.setProperty and applies only
    # the first value of a process, and espeak-ng sometimes keeps the old rate when it is set on one side
    # of a voice change only (tests/speech/test_tts.py pins both).
    driver = engine.proxy._driver
    prosody = (("rate", int(request["rate"])), ("pitch", int(request["pitch"])))
    for name, value in (*prosody, ("voice", request["voice"]), *prosody):
        driver.setProperty(name, value)
    for _ in range(2):  # pyttsx3 2.99 now and then returns before espeak-ng has spoken: once more
        target.unlink(missing_ok=True)
        _synthesise(engine, request["text"], target)
        if target.is_file() and _seconds(target) >= MIN_SECONDS:
            return {"ok": True}
    return {"error": f"espeak-ng produced no audio for {request['text'][:20]!r}"}


def _answer(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, ensure_ascii=False) + "\n")
    channel.flush()


def main() -> int:
    # Answers go to a private copy of stdout; anything else a library prints to fd 1 goes to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        engine, greeting = _start()
    except (ImportError, OSError, RuntimeError) as exc:
        _answer(channel, {"error": f"cannot start espeak-ng through pyttsx3 ({exc})"})
        return 1
    _answer(channel, greeting)
    for line in sys.stdin:
        try:
            answer = render(engine, json.loads(line))
        except (KeyError, ValueError, TypeError, OSError, RuntimeError, wave.Error) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _answer(channel, answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
