"""One engine turn → TwiML, through the twilio SDK's VoiceResponse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, VoiceResponse

from flows.engine import Expect, Turn
from ivr.capture import AnswerCapture, gather_keys
from ivr.stream_capture import start_stream
from kit.settings import IvrSettings


@dataclass(frozen=True)
class TurnUrls:
    """Where Twilio sends what happens next; each carries the turn number (idempotency)."""

    answer: str
    no_input: str
    dial: str
    message: str


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def render_turn(turn: Turn, prompt_urls: Sequence[str], urls: TurnUrls, capture: AnswerCapture,
                settings: IvrSettings, stream_token: str | None = None) -> str:
    """`stream_token`: start the call's audio stream first (its first document, when it streams its answers)."""
    response = VoiceResponse()
    if stream_token is not None:
        start_stream(response, settings.public_base_url, stream_token)
    if turn.ended:
        for url in prompt_urls:
            response.play(url)
        if turn.record_message:  # e.g. when the applicant can be reached: kept with the call
            response.record(action=urls.message, method="POST", timeout=3, max_length=20, play_beep=True)
        response.hangup()
    elif turn.handoff_topic is not None or turn.expect is Expect.NOTHING:
        for url in prompt_urls:
            response.play(url)
        response.append(agent_dial(urls.dial, settings))
    elif turn.expect is Expect.DIGITS:
        gather_keys(response, prompt_urls, urls.answer, urls.no_input, turn.digits, settings.gather_timeout_s)
    elif turn.takes_speech:
        capture.listen(response, prompt_urls, urls.answer, urls.no_input)
    else:  # keypad-only
        gather_keys(response, prompt_urls, urls.answer, urls.no_input, 1, settings.gather_timeout_s)
    return str(response)


def agent_dial(action: str, settings: IvrSettings) -> Dial:
    """<Dial> the agent line, the agent's leg recorded too (twilio-facts §2.5)."""
    dial = Dial(action=action, method="POST", timeout=settings.dial_timeout_s, record="record-from-answer-dual")
    if settings.agent_kind == "sip":
        dial.sip(settings.agent_target)
    elif settings.agent_kind == "client":
        dial.client(settings.agent_target)
    else:
        dial.number(settings.agent_target)
    return dial
