"""Golden TwiML, mailroom-style (web/public/testdata/ivr_twilio.json): for every route Twilio calls, each
request of a scenario and the exact response (status, content type, body byte for byte) Twilio gets back,
pinned in tests/ivr/golden/<scenario>.json. A safety net for moving the call rules out of ivr/.

After an intended change, rewrite the files and review what Twilio will receive:
    HUIFANG_UPDATE_GOLDEN=1 HUIFANG_TEST_BACKENDS=sqlite python -m pytest tests/ivr/test_twiml_golden.py
    git diff tests/ivr/golden

Prompt URLs hold a hash of the prompt text and of the TTS engine (espeak-ng version, voice, rate, pitch): a
new espeak-ng package changes every one of them, as it changes the audio Twilio plays. Nothing else in
the bodies varies between runs or backends (checked), so nothing is normalised; both backends compare
against the same files.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from sqlalchemy import Engine

from intake.identity import make_resident_id
from speech.cache import PromptCache
from speech.lexicon import Intent
from tests.factories import policy_row
from tests.ivr.conftest import ACCOUNT, BASE, BIRTHDAY, TOKEN, Ivr, answer_wav, build_ivr

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HUIFANG_UPDATE_GOLDEN") == "1"
RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'c' * 32}"


@dataclass
class Script:
    """Drives one call the way Twilio does (through the `Ivr` helpers) and keeps every exchange."""

    ivr: Ivr
    steps: list[dict[str, Any]] = field(default_factory=list)
    last: tuple[str, dict[str, str]] = ("", {})

    def post(self, name: str, path: str, form: dict[str, str], *, sign: bool = True, token: str = TOKEN,
             base: str = BASE) -> str:
        response = self.ivr.post(path, form, sign=sign, token=token, base=base)
        body = response.get_data().decode("utf-8")  # strict: a body that is not UTF-8 fails here
        standard = self.ivr.params(form.get("CallSid", ""))
        self.steps.append({  # the form without the fields every webhook carries alike (Ivr.params)
            "step": name, "request": f"POST {path}",
            "form": {k: v for k, v in form.items() if k == "CallSid" or standard.get(k) != v},
            "status": response.status_code, "content_type": response.content_type, "body": body})
        self.last = (path, form)
        return body

    def answer(self, name: str, *, sign: bool = True, token: str = TOKEN, **extra: str) -> str:
        form = self.ivr.params("CA1", **extra)
        return self.post(name, f"/twilio/voice/answer?task={self.ivr.task_id}", form, sign=sign, token=token)

    def turn(self, name: str, *, digits: str | None = None, speech: Intent | None = None,
             no_input: bool = False, seq: int | None = None) -> str:
        seq = self.ivr.call().turn_seq if seq is None else seq
        form = self.ivr.params("CA1")
        if digits is not None:
            form["Digits"] = digits
        if speech is not None:  # the scripted recognizer hears it in the audio served at RecordingUrl
            self.ivr.recognizer.say(speech)
            form.update(self.ivr.serve_answer_recording())
        return self.post(name, f"/twilio/voice/turn?seq={seq}" + ("&no_input=1" if no_input else ""), form)

    def fallback(self, name: str, path: str, form: dict[str, str], code: str = "11200", *,
                 base: str | None = None) -> str:
        """Twilio's fallback for a failed voice webhook (twilio-facts §2.10): the same parameters plus ErrorCode
        and ErrorUrl, to the call's FallbackUrl, signed for the fallback host."""
        host = self.ivr.svc.settings.ivr.fallback_base if base is None else base
        return self.post(name, "/twilio/voice/fallback", {**form, "ErrorCode": code, "ErrorUrl": BASE + path},
                         base=host)

    def fallback_of_last(self, name: str, code: str = "11205") -> str:
        """The last request's answer was lost (taken, then the worker died or 15 s passed): its fallback."""
        return self.fallback(name, *self.last, code=code)

    def again(self, name: str) -> str:
        """Twilio delivers the last request once more (a retry): the very same URL and form."""
        return self.post(name, *self.last)

    def dial(self, name: str, status: str) -> str:
        form = self.ivr.params("CA1", DialCallStatus=status, DialCallSid="CA-agent", DialCallDuration="95")
        return self.post(name, f"/twilio/voice/dial?seq={self.ivr.call().turn_seq}", form)

    def status(self, name: str, status: str, **extra: str) -> str:
        return self.post(name, f"/twilio/voice/status?task={self.ivr.task_id}",
                         self.ivr.params("CA1", CallStatus=status, **extra))

    def to_first_question(self) -> None:
        self.answer("answered: are you the applicant?")
        self.turn("key 1: it is me → birthday", digits="1")
        self.turn("birthday keyed → first question", digits=BIRTHDAY)


def answer_human(s: Script) -> None:
    first = s.answer("human answers (AMD) → greeting + identity question", AnsweredBy="human")
    assert s.again("the answered-call webhook again → the same TwiML") == first


def answer_machine(s: Script) -> None:
    assert "<Hangup />" in s.answer("machine_start → hang up", AnsweredBy="machine_start")
    s.again("the answered-call webhook again → hang up again")


def turn_speech(s: Script) -> None:
    s.to_first_question()
    s.turn("spoken yes → next question", speech=Intent.YES)
    s.turn("no input → reprompt", no_input=True)
    s.turn("* → the question again", digits="*")
    flow = s.ivr.svc.library.flows["traditional"]
    for _ in range(20):  # yes by key until a question that has an explanation for a no
        state = _state(s.ivr)
        if flow.step(state["plan"][state["index"]]).explain:
            break
        s.turn("key 1 → next question", digits="1")
    else:
        raise AssertionError("the traditional flow has no question with an explanation any more")
    explained = s.turn("spoken no → explanation + re-ask", speech=Intent.NO)
    assert s.again("the same turn again → the same TwiML") == explained
    seq = s.ivr.call().turn_seq
    s.turn("a stale turn → 409", digits="1", seq=seq - 2)
    s.turn("spoken yes after the explanation → next question", speech=Intent.YES)
    s.turn("unintelligible speech → reprompt", speech=Intent.UNKNOWN)
    s.turn("hang-up during <Record> → hang up", digits="hangup")


def turn_silence(s: Script) -> None:
    s.to_first_question()
    for n in (1, 2):
        s.turn(f"no input ({n}) → reprompt", no_input=True)
    s.turn("no input (3) → keypad only", no_input=True)
    s.turn("key 1 → next question, keypad only", digits="1")
    s.turn("key 7 while keypad only → end (language barrier)", digits="7")


def turn_to_the_end(s: Script) -> None:
    s.to_first_question()
    for _ in range(40):
        if "<Hangup />" in s.turn("key 1 → next", digits="1"):
            break
    s.steps[-1]["step"] = "key 1 on the last question → closing + hang up"
    s.turn("a turn after the end → hang up")
    s.status("status completed → taken", "completed", CallDuration="120", SequenceNumber="3")
    s.again("status completed again → already taken")
    s.ivr.http.add(responses.GET, RECORDING + ".wav", body=answer_wav(), status=200)
    form = {"AccountSid": ACCOUNT, "CallSid": "CA1", "RecordingSid": RECORDING.rsplit("/", 1)[1],
            "RecordingUrl": RECORDING, "RecordingStatus": "completed", "RecordingDuration": "120",
            "RecordingChannels": "2", "RecordingSource": "OutboundAPI"}
    s.post("whole-call recording → taken", "/twilio/recording", form)
    s.again("whole-call recording again → taken")
    s.post("recording with a forged signature → 403", "/twilio/recording", form, token="not-the-token")


def identity_absent(s: Script) -> None:
    s.status("status initiated → taken", "initiated")
    s.again("status initiated again → already taken")
    s.answer("answered")
    s.turn("spoken no: not the applicant → ask when to call, record a message", speech=Intent.NO)
    form = s.ivr.params("CA1", RecordingUrl=RECORDING, RecordingSid="RE" + "c" * 32, RecordingDuration="6")
    s.post("message left → hang up", f"/twilio/voice/message?seq={s.ivr.call().turn_seq}", form)
    s.again("message again → hang up")


def time_limit(s: Script) -> None:
    s.to_first_question()
    s.ivr.clock.advance(timedelta(seconds=s.ivr.svc.settings.ivr.max_call_seconds + 1))
    s.turn("past the call's time limit → polite end", digits="1")


def dial_connected(s: Script) -> None:
    s.to_first_question()
    s.turn("key 1 → next question", digits="1")
    s.turn("key 0 → hand-off prompt + <Dial>", digits="0")
    s.dial("agent connected (completed) → hang up", "completed")
    s.again("dial action again → hang up")


def dial_unavailable(s: Script) -> None:
    s.to_first_question()
    s.turn("spoken 人工 → hand-off prompt + <Dial>", speech=Intent.HUMAN)
    s.dial("no-answer → agent unavailable, the flow goes on", "no-answer")


def human_first(s: Script) -> None:
    s.answer("answered")
    s.turn("key 1: it is me → birthday", digits="1")
    s.turn("birthday keyed, 68 years old → human-first <Dial>", digits=BIRTHDAY)
    s.dial("busy → the robot asks the question", "busy")


def no_agent_line(s: Script) -> None:
    s.to_first_question()
    s.turn("key 0 with no agent line → agent unavailable, next question", digits="0")


def keypad(s: Script) -> None:
    s.answer("answered (keypad capture) → identity question in a 1-key <Gather>")
    s.turn("key 1 → birthday", digits="1")
    s.turn("wrong birthday → retry", digits="0101")
    s.turn("birthday keyed → first question in a 1-key <Gather>", digits=BIRTHDAY)
    s.turn("no input → reprompt", no_input=True)
    s.turn("key 1 → next question", digits="1")
    s.turn("key 0 → hand-off prompt + <Dial>", digits="0")
    s.dial("failed → agent unavailable, the flow goes on", "failed")
    s.turn("key 2 (no) → the answer is kept, next question", digits="2")


def errors(s: Script) -> None:
    ivr = s.ivr
    s.post("turn without CallSid → 400", "/twilio/voice/turn?seq=1", {"Digits": "1"})
    s.post("turn, seq not a number → 400", "/twilio/voice/turn?seq=x", ivr.params("CA1"))
    s.post("turn without seq → 400", "/twilio/voice/turn", ivr.params("CA1"))
    s.post("turn for an unknown CallSid → 404", "/twilio/voice/turn?seq=1", ivr.params("CA-nobody", Digits="1"))
    s.post("answer for an unknown call without task → 404", "/twilio/voice/answer", ivr.params("CA-new"))
    s.post("answer for an unknown task → 404", "/twilio/voice/answer?task=999", ivr.params("CA-new"))
    s.post("answer without CallSid → 400", f"/twilio/voice/answer?task={ivr.task_id}", {})
    s.answer("answer with a forged signature → 403", token="not-the-token")
    s.answer("answer unsigned → 403", sign=False)
    s.status("status before the flow started: ringing → taken", "ringing")
    s.turn("turn before the answered-call webhook → 409", digits="1", seq=0)
    s.status("unknown CallStatus → 400", "answered")
    s.post("dial without DialCallStatus → 400", "/twilio/voice/dial?seq=1", ivr.params("CA1"))
    s.answer("answered")
    s.dial("dial action while no hand-off → 409", "completed")
    s.post("message for an unknown CallSid → 404 (as every other route)", "/twilio/voice/message?seq=1", ivr.params("CA-nobody"))
    s.post("recording without RecordingSid → 400", "/twilio/recording", {"CallSid": "CA1"})
    s.post("recording for an unknown CallSid → 404", "/twilio/recording",
           {"CallSid": "CA-nobody", "RecordingSid": "RE1", "RecordingStatus": "absent"})
    s.post("status for an unknown call without task → 404", "/twilio/voice/status",
           ivr.params("CA-new", CallStatus="ringing"))


def fallback_turns(s: Script) -> None:
    """Twilio's fallback on a second host standing in for each voice webhook that failed."""
    ivr = s.ivr
    answer = f"/twilio/voice/answer?task={ivr.task_id}"
    ivr.place("CA1", ivr.task_id)  # the dialer registered the call it placed before Twilio asked anything
    first = s.fallback("answered-call webhook failed (no answer in 15 s) → the fallback starts the flow", answer,
                       ivr.params("CA1", AnsweredBy="human"), code="11205")
    assert s.post("the answered-call webhook's late answer → the same TwiML", answer,
                  ivr.params("CA1", AnsweredBy="human")) == first
    s.turn("key 1: it is me → birthday", digits="1")
    form = ivr.params("CA1", Digits=BIRTHDAY)
    s.fallback("birthday: its turn failed before it was taken (HTTP 500) → the fallback takes it, first question",
               "/twilio/voice/turn?seq=2", form)
    taken = s.turn("spoken yes → next question", speech=Intent.YES)
    assert s.fallback_of_last("the same turn's answer lost after it was taken → the same TwiML, nothing taken "
                              "twice") == taken
    answers = [e.detail.get("digits") or e.detail.get("intent") for e in ivr.events() if e.kind == "answer"]
    assert answers == ["1", BIRTHDAY, "yes"]
    assert [(e.text, e.detail["ErrorCode"], e.detail["ErrorUrl"].split("/voice/")[1])
            for e in ivr.events() if e.kind == "fallback"] == [
        ("answered", "11205", f"answer?task={ivr.task_id}"), ("answered", "11200", "turn?seq=2"),
        ("answered", "11205", "turn?seq=3")]
    s.fallback("no input: the <Redirect> failed → the fallback reprompts",
               f"/twilio/voice/turn?seq={ivr.call().turn_seq}&no_input=1", ivr.params("CA1"))
    s.fallback("a fallback signed for the primary host → 403", f"/twilio/voice/turn?seq={ivr.call().turn_seq}",
               ivr.params("CA1", Digits="1"), base=BASE)
    s.fallback("a fallback for a stale turn → 409", "/twilio/voice/turn?seq=1", ivr.params("CA1", Digits="1"))
    s.turn("key 0 → hand-off prompt + <Dial>", digits="0")
    dial = ivr.params("CA1", DialCallStatus="no-answer", DialCallSid="CA-agent", DialCallDuration="0")
    s.fallback("the <Dial> action failed → the fallback goes on: agent unavailable, next question",
               f"/twilio/voice/dial?seq={ivr.call().turn_seq}", dial)
    s.status("status completed → taken (status callbacks have no fallback)", "completed", CallDuration="200")


def fallback_message(s: Script) -> None:
    s.answer("answered")
    s.turn("spoken no: not the applicant → ask when to call, record a message", speech=Intent.NO)
    form = s.ivr.params("CA1", RecordingUrl=RECORDING, RecordingSid="RE" + "c" * 32, RecordingDuration="6")
    s.fallback("the message's action failed → hang up, the message kept", f"/twilio/voice/message?seq={s.ivr.call().turn_seq}", form)
    s.again("its fallback delivered again → hang up, kept once")
    assert [e.kind for e in s.ivr.events() if e.kind in ("message", "fallback")] == ["message", "fallback", "fallback"]


def fallback_errors(s: Script) -> None:
    ivr = s.ivr
    s.answer("answered")
    turn = ivr.params("CA1", Digits="1")
    s.post("fallback without ErrorUrl → 400", "/twilio/voice/fallback", {**turn, "ErrorCode": "11200"})
    s.post("fallback without ErrorCode → 400", "/twilio/voice/fallback",
           {**turn, "ErrorUrl": BASE + "/twilio/voice/turn?seq=1"})
    s.fallback("ErrorCode not a number → 400", "/twilio/voice/turn?seq=1", turn, code="11200x")
    s.post("ErrorUrl on another host → 400", "/twilio/voice/fallback",
           {**turn, "ErrorCode": "11200", "ErrorUrl": "https://evil.example.com/twilio/voice/turn?seq=1"})
    s.fallback("ErrorUrl a status callback (no TwiML, no fallback) → 400", f"/twilio/voice/status?task={ivr.task_id}",
               ivr.params("CA1", CallStatus="completed"))
    s.fallback("ErrorUrl the fallback itself → 400", "/twilio/voice/fallback", turn)
    s.fallback("ErrorUrl a turn without seq → 400", "/twilio/voice/turn", turn)
    s.fallback("fallback for an unknown CallSid → 404", "/twilio/voice/turn?seq=1", ivr.params("CA-nobody", Digits="1"))
    s.post("fallback unsigned → 403", "/twilio/voice/fallback",
           {**turn, "ErrorCode": "11200", "ErrorUrl": BASE + "/twilio/voice/turn?seq=1"}, sign=False)
    assert ivr.call().turn_seq == 1  # none of them took anything
    s.fallback("a well-formed fallback → the answer is taken", "/twilio/voice/turn?seq=1", turn)


def stream_capture(s: Script) -> None:
    """ivr.capture = stream: the stream started in the first document only, questions in a DTMF <Gather>, keys
    still answer; a question's timeout on a call whose stream never started asks it again with <Record>."""
    s.to_first_question()
    s.turn("key 1 → next question (keys answer a streamed question)", digits="1")
    s.turn("no input, the stream never started → the same question with <Record>", no_input=True)
    s.turn("spoken yes (recorded) → next question, recorded from now on", speech=Intent.YES)


def _state(ivr: Ivr) -> dict[str, Any]:
    state = ivr.call().state
    assert state is not None
    return state


BORN = date(1958, 5, 17)  # 68 on the call day; the birthday keys stay 0517 (as in test_handoff)
ELDERLY = {"applicant_birth_date": BORN.isoformat(), "applicant_id_no": make_resident_id("110105", BORN, 8, male=False)}
SCENARIOS: dict[str, tuple[Callable[[Script], None], dict[str, Any]]] = {
    "answer_human": (answer_human, {}),
    "answer_machine": (answer_machine, {}),
    "turn_speech": (turn_speech, {}),
    "turn_silence": (turn_silence, {}),
    "turn_to_the_end": (turn_to_the_end, {}),
    "identity_absent_message": (identity_absent, {}),
    "time_limit": (time_limit, {}),
    "dial_connected": (dial_connected, {}),
    "dial_unavailable": (dial_unavailable, {}),
    "dial_sip": (dial_connected, {"agent_kind": "sip", "agent_target": "sip:agent@pbx.example.com"}),
    "dial_client": (dial_connected, {"agent_kind": "client", "agent_target": "agent-7"}),
    "human_first": (human_first, {"human_first_min_age": 60, "elderly": True}),
    "no_agent_line": (no_agent_line, {"agent_target": ""}),
    "keypad_capture": (keypad, {"keypad": True}),
    "stream_capture": (stream_capture, {"streams": True}),
    "errors": (errors, {}),
    "fallback_turns": (fallback_turns, {"fallback_base_url": "https://fallback.example.com"}),
    "fallback_message": (fallback_message, {}),
    "fallback_errors": (fallback_errors, {}),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_twiml_golden(name: str, engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    play, options = SCENARIOS[name]
    options = dict(options)
    if options.pop("elderly", False):
        options["row"] = policy_row(**ELDERLY)
    ivr = build_ivr(engine, tmp_path, prompt_cache, **options)
    script = Script(ivr)
    with ivr.http:
        play(script)
    assert script.steps, "a scenario that sends nothing pins nothing"
    compare_or_update(GOLDEN / f"{name}.json", {"scenario": name, "steps": script.steps})


def compare_or_update(path: Path, actual: dict[str, Any]) -> None:
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        pytest.skip(f"HUIFANG_UPDATE_GOLDEN=1: rewrote {path.name}; review git diff before committing")
    if not path.is_file():
        pytest.fail(f"no golden file {path}: run with HUIFANG_UPDATE_GOLDEN=1 to write it")
    expected = json.loads(path.read_text(encoding="utf-8"))
    if actual != expected:
        diff = difflib.unified_diff(_lines(expected), _lines(actual), f"{path.name} (expected)", "actual",
                                    lineterm="", n=4)
        pytest.fail(f"TwiML differs from {path.name} (HUIFANG_UPDATE_GOLDEN=1 rewrites it if intended):\n"
                    + "\n".join(diff), pytrace=False)


def _lines(scenario: dict[str, Any]) -> list[str]:
    """A scenario as lines for a readable diff: one line per XML tag (the comparison itself is exact)."""
    lines: list[str] = []
    for n, step in enumerate(scenario["steps"], 1):
        lines += [f"#{n} {step['step']}", f"  {step['request']} {json.dumps(step['form'], ensure_ascii=False)}",
                  f"  → {step['status']} {step['content_type']}"]
        lines += ["    " + part for part in step["body"].replace("><", ">\n<").split("\n")]
    return lines
