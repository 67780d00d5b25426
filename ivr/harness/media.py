"""Twilio's media host, simulated: the answer recordings a simulated caller leaves, served to the app's own
download code (a requests transport adapter, so the real MediaClient path runs, basic auth included)."""

from __future__ import annotations

import hashlib
import io
import threading
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from ivr.harness.sids import RECORDING, mint
from speech.asr import Recognition
from speech.audio import Audio
from speech.lexicon import Intent

MEDIA_BASE = "https://api.twilio.com/2010-04-01/Accounts"


@dataclass
class Stored:
    body: bytes
    not_ready: int = 0  # 404s still to answer before the media is there (Twilio's lag, rapidpro#604)


class MediaHost(BaseAdapter):
    def __init__(self, account_sid: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self._media: dict[str, Stored] = {}
        self._lock = threading.Lock()
        self.fetches = 0
        self.unauthorised = 0

    def add(self, body: bytes, not_ready: int = 0) -> tuple[str, str]:
        """Store a recording; returns its (RecordingSid, RecordingUrl) as Twilio would name them (a new SID,
        never one another process or run minted: ivr.harness.sids)."""
        sid = mint(RECORDING)
        url = f"{MEDIA_BASE}/{self.account_sid}/Recordings/{sid}"
        with self._lock:
            self._media[url + ".wav"] = Stored(body, not_ready)
        return sid, url

    def send(self, request: requests.PreparedRequest, stream: bool = False,  # noqa: ARG002 - requests' signature
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,  # noqa: ARG002
             verify: bool | str = True, cert: Any = None,  # noqa: ARG002
             proxies: Mapping[str, str] | None = None) -> requests.Response:  # noqa: ARG002
        response = requests.Response()
        response.request = request
        response.url = request.url or ""
        response.headers = CaseInsensitiveDict()
        self.fetches += 1
        stored = self._media.get(request.url or "")
        if not request.headers.get("Authorization", "").startswith("Basic "):
            self.unauthorised += 1
            response.status_code = 401
        elif stored is None:
            response.status_code = 404
        elif stored.not_ready > 0:
            stored.not_ready -= 1
            response.status_code = 404
        else:
            response.status_code = 200
            response.headers["Content-Type"] = "audio/x-wav"
            response.raw = io.BytesIO(stored.body)
        return response

    def close(self) -> None:
        pass


class InjectedRecognizer:
    """Text mode: the caller hands the recogniser's result in. Each intent has its own short clip (made once);
    the recogniser looks the intent up by the clip's content, so the app's fetch-and-decode path still runs."""

    def __init__(self) -> None:
        self._intents: dict[str, Intent] = {}
        self._clips: dict[Intent, bytes] = {}

    def clip(self, intent: Intent) -> bytes:
        made = self._clips.get(intent)
        if made is None:
            seed = len(self._clips) + 1
            samples = np.random.default_rng(seed).integers(-3000, 3000, 8000, dtype=np.int16)
            self._intents[_key(samples)] = intent
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(8000)
                out.writeframes(samples.tobytes())
            made = self._clips[intent] = buffer.getvalue()
        return made

    def recognize(self, audio: Audio) -> Recognition:
        intent = self._intents.get(_key(audio.samples), Intent.UNKNOWN)
        return Recognition(intent, 1.0 if intent is not Intent.UNKNOWN else 0.0, f"<{intent.value}>")


def _key(samples: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(samples, dtype=np.int16).tobytes()).hexdigest()


class SilentRenderer:
    """Prompt "audio" for fast simulations: silence as long as the text would take to say (Mandarin at
    about 4 characters a second), so timing on the virtual clock stays realistic without rendering."""

    def identity(self, language: str) -> str:
        return f"simulated-silence; {language}"

    def render(self, text: str, language: str) -> Audio:  # noqa: ARG002 - every language sounds the same
        seconds = max(0.5, len(text) / 4.0)
        return Audio(np.zeros(int(8000 * seconds), dtype=np.int16), 8000)
