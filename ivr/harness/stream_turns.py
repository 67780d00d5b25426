"""A question played inside <Gather input="dtmf"> while the call's stream is open (ivr.stream_capture): the
prompt's frames, the callee's answer placed in stream time (spoken, or keys), and whatever moves the call on
first — a call update from the app (the streamed answer, barge-in included), a key (the Gather's action), or the
Gather's timeout after the prompt (no input: the next verb, the no-input <Redirect>)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ivr.harness.call_log import KEY_OF, SimulationError
from ivr.harness.streamed import Speech
from ivr.harness.twiml import Verb
from speech.audio import TELEPHONE_RATE, read_wav, resample, trim

VOICE_DBFS = -45.0  # the callee's voice starts where the spoken clip rises above this

if TYPE_CHECKING:
    from ivr.harness.caller import Caller


def seq_of(url: str) -> int:
    """The turn number an action URL names (…/turn?seq=N), 0 if none."""
    values = parse_qs(urlsplit(url).query).get("seq", ["0"])
    return int(values[0]) if values[0].isdigit() else 0


def streamed_gather(caller: Caller, verb: Verb) -> list[Verb] | None:
    """The next document, or None: no input (the next verb runs) or the caller hung up."""
    leg, sim = caller.leg, caller.sim
    assert leg is not None
    options = sim.stream_options
    start = leg.ms()
    seconds = 0.0
    for child in verb.children:
        if child.name == "Play":
            seconds += caller.duration(child.text)
            caller.log.played.append(child.text)
        elif child.name == "Pause":
            seconds += int(child.attr("length", "1"))
        elif child.name == "Say":
            caller.log.played.append(f"say:{child.text}")
    prompt_end = start + round(seconds * 1000)
    until = prompt_end + int(verb.attr("timeout", "5")) * 1000
    seq = seq_of(verb.attr("action"))
    caller.log.prompt_end_ms[seq] = prompt_end
    takes_speech = getattr(sim.oracle, "takes_speech", None)
    speaks = takes_speech(caller.log.call_sid) if takes_speech is not None else True
    answer = caller.choose()
    if answer == "hangup":
        caller.done = True
        return None
    keys = KEY_OF.get(answer, "")
    speech: Speech | None = None
    key_at: int | None = None
    if speaks and caller.persona.mode == "text":
        raise SimulationError("a streamed question needs the callee in audio or dtmf mode, not text")
    if speaks and caller.persona.mode == "audio":
        if answer != "silence":
            if sim.speaker is None:
                raise SimulationError("audio mode needs a speaker (espeak-ng voice and lexicon of the flow's language)")
            audio = trim(resample(read_wav(sim.speaker(answer)), TELEPHONE_RATE), VOICE_DBFS, 0)  # voice onset first
            at = prompt_end - options.barge_in_ms if options.barge_in_ms > 0 else prompt_end + options.answer_after_ms
            speech = Speech(audio, max(start, at))
            if options.key_after_ms is not None and keys:
                key_at = speech.at_ms + options.key_after_ms
    elif keys:
        key_at = prompt_end  # keys are pressed once the question has been heard
    interrupt = leg.advance(until, speech, key_at)
    if interrupt is None:
        return None
    if interrupt.kind == "key":
        return caller.webhook(verb.attr("action"), caller.params(Digits=keys, FinishedOnKey=""))
    caller.log.moved_ms[seq] = interrupt.at_ms
    return caller.follow(interrupt)
