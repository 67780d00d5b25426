"""Answer capture: how the caller's answer to a question gets from Twilio to the flow engine.

A strategy: it adds the listening verbs after the prompts, and reads the answer from the action request.
`RecordCapture` (this issue) records each answer with <Record> (short silence timeout, no beep, any key
ends it and is the answer), downloads it and recognises it with Vosk. A streaming strategy
(<Start><Stream>, Vosk on the WebSocket, REST redirect) can be added beside it without touching the rest.
Keypad-only questions and identity use <Gather input="dtmf">, read by the same `read`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from calls.inputs import Heard
from flows.engine import CallerInput, InputKind
from recordings.media import MediaClient, MediaUnavailable
from speech.asr import Recognition
from speech.audio import Audio, read_wav
from speech.lexicon import Intent

# speech and flows import nothing of ours, so each has its own answer vocabulary; this is the one bridge.
INTENT_INPUT: dict[Intent, InputKind] = {
    Intent.YES: InputKind.YES,
    Intent.NO: InputKind.NO,
    Intent.REPEAT: InputKind.REPEAT,
    Intent.HUMAN: InputKind.HUMAN,
    Intent.UNKNOWN: InputKind.UNKNOWN,
    Intent.SILENCE: InputKind.SILENCE,
}
KEYS = "0123456789*#"


class Recognizer(Protocol):
    def recognize(self, audio: Audio) -> Recognition: ...


class AnswerCapture(Protocol):
    name: str

    def listen(self, response: VoiceResponse, prompt_urls: Sequence[str], action: str, no_input: str) -> None:
        """Append the prompts and the verbs that capture a yes/no answer."""

    def read(self, form: Mapping[str, str], no_input: bool) -> Heard:
        """The answer in an action request (or a <Redirect> after no input)."""


def gather_keys(response: VoiceResponse, prompt_urls: Sequence[str], action: str, no_input: str,
                digits: int, timeout_s: int) -> None:
    """Prompts inside a DTMF <Gather> (a key interrupts them), then <Redirect> for no input (surveda#636)."""
    gather = response.gather(input="dtmf", num_digits=digits, timeout=timeout_s, action=action, method="POST",
                             finish_on_key="" if digits == 1 else "#")
    for url in prompt_urls:
        gather.play(url)
    response.redirect(no_input, method="POST")


def read_keys_or_nothing(form: Mapping[str, str], no_input: bool) -> Heard | None:
    """The part of reading every strategy shares: no input, a hang-up during <Record>, or keys."""
    if no_input:
        return Heard(CallerInput(InputKind.SILENCE), {"source": "no_input"})
    digits = form.get("Digits", "")
    if digits == "hangup":
        return Heard(CallerInput(InputKind.HANGUP), {"source": "record", "digits": digits})
    if digits:
        return Heard(CallerInput(InputKind.DIGITS, digits=digits), {"source": "keypad", "digits": digits})
    return None


@dataclass
class RecordCapture:
    recognizer: Recognizer
    media: MediaClient
    timeout_s: int = 2
    max_length_s: int = 15
    fetch_attempts: int = 6
    fetch_wait_s: float = 0.5
    name: str = "record"
    model: str = ""  # the recogniser's model directory name, kept with each answer (quality review measures)

    def listen(self, response: VoiceResponse, prompt_urls: Sequence[str], action: str, no_input: str) -> None:
        for url in prompt_urls:
            response.play(url)
        response.record(action=action, method="POST", timeout=self.timeout_s, max_length=self.max_length_s,
                        play_beep=False, finish_on_key=KEYS, trim="trim-silence")
        response.redirect(no_input, method="POST")  # <Record> with no audio goes on to the next verb

    def read(self, form: Mapping[str, str], no_input: bool) -> Heard:
        shared = read_keys_or_nothing(form, no_input)
        if shared is not None:
            return shared
        url = form.get("RecordingUrl", "")
        if not url:
            return Heard(CallerInput(InputKind.SILENCE), {"source": "record", "error": "no RecordingUrl"})
        started = time.perf_counter()
        detail: dict[str, Any] = {"source": "record", "recording_url": url,
                                  "recording_sid": form.get("RecordingSid", "")}
        try:
            data = self.media.fetch(url, self.fetch_attempts, self.fetch_wait_s)
            audio = read_wav(data)
        except (MediaUnavailable, ValueError) as exc:
            detail["error"] = str(exc)
            return Heard(CallerInput(InputKind.UNKNOWN), detail)
        fetched = time.perf_counter()
        result = self.recognizer.recognize(audio)
        detail.update(result.to_dict())
        detail["fetch_ms"] = round((fetched - started) * 1000, 1)
        detail["asr_ms"] = round((time.perf_counter() - fetched) * 1000, 1)
        if self.model:
            detail["model"] = self.model
        return Heard(CallerInput(INTENT_INPUT[result.intent], text=result.text), detail)


@dataclass
class KeypadCapture:
    """Yes/no by keypad only (1 yes, 2 no, 0 a person, * repeat): used when no ASR model is configured."""

    timeout_s: int = 6
    name: str = "keypad"

    def listen(self, response: VoiceResponse, prompt_urls: Sequence[str], action: str, no_input: str) -> None:
        gather_keys(response, prompt_urls, action, no_input, 1, self.timeout_s)

    def read(self, form: Mapping[str, str], no_input: bool) -> Heard:
        return read_keys_or_nothing(form, no_input) or Heard(CallerInput(InputKind.SILENCE), {"source": "keypad"})
