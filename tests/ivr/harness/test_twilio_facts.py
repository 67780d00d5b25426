"""The harness against docs/twilio-facts.md: TwiML failures, parameters, callback order, fall-through,
signatures, and the faults it injects."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ivr.harness.local import FlaskTransport, LocalHarness
from ivr.harness.media import MediaHost
from ivr.harness.persona import Persona, persona_from
from ivr.harness.sids import mint
from ivr.harness.simulator import SimulationError, Simulator
from ivr.harness.twiml import TwimlError, parse
from kit.clock import FrozenClock
from speech.cache import PromptCache
from tests.ivr.conftest import build_ivr, text_mode_harness


def test_twiml_twilio_would_refuse_fails_loudly() -> None:
    with pytest.raises(TwimlError, match="12100"):
        parse("<Response><Play>")
    with pytest.raises(TwimlError, match=r"12200: <Enqueue> is not allowed in <Response>"):
        parse("<Response><Enqueue>q</Enqueue></Response>")
    with pytest.raises(TwimlError, match=r"12200: <Record> is not allowed in <Gather>"):
        parse("<Response><Gather><Record/></Gather></Response>")
    with pytest.raises(TwimlError, match="<Play> needs a URL"):
        parse("<Response><Play/></Response>")
    verbs = parse('<Response><Gather numDigits="4"><Play>https://x/a.wav</Play></Gather><Redirect>https://x/t'
                  "</Redirect></Response>")
    assert [v.name for v in verbs] == ["Gather", "Redirect"]
    assert verbs[0].attr("numDigits") == "4"
    assert verbs[0].children[0].text == "https://x/a.wav"


class ScriptedApp:
    """A stand-in for the app: records Twilio's requests, answers with scripted TwiML."""

    def __init__(self, documents: dict[str, str]) -> None:
        self.documents = documents
        self.requests: list[tuple[str, dict[str, str]]] = []

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        self.requests.append((url, form))
        path = url.split("/twilio/", 1)[-1].split("?")[0]
        return 200, self.documents.get(path, "taken")

    def get(self, url: str) -> tuple[int, bytes]:
        raise AssertionError("no audio in this script")


class NoTopic:
    def current_topic(self, call_sid: str) -> str | None:
        return None


def _sim(app: ScriptedApp) -> Simulator:
    return Simulator(transport=app, media=MediaHost("AC1"), oracle=NoTopic(),
                     clock=FrozenClock(datetime(2026, 11, 25, 2, tzinfo=UTC)), account_sid="AC1",
                     base_url="https://ivr.example.com")


def test_the_parameters_and_the_order_of_callbacks() -> None:
    app = ScriptedApp({"voice/answer": "<Response><Hangup/></Response>"})
    log = _sim(app).run(7, "CA1", "+8613700000001", Persona())
    paths = [url.removeprefix("https://ivr.example.com") for url, _ in app.requests]
    assert paths == ["/twilio/voice/status?task=7"] * 2 + ["/twilio/voice/answer?task=7"] + \
        ["/twilio/voice/status?task=7"] * 2 + ["/twilio/recording"]
    statuses = [form["CallStatus"] for url, form in app.requests if "status" in url]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert [form["SequenceNumber"] for url, form in app.requests if "status" in url] == ["0", "1", "2", "3"]
    answer = app.requests[2][1]
    assert {"CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction", "Caller",
            "Called", "AnsweredBy"} <= set(answer)
    assert (answer["Direction"], answer["ApiVersion"], answer["AnsweredBy"]) == ("outbound-api", "2010-04-01", "human")
    assert app.requests[-2][1]["CallDuration"] == "0"
    recording = app.requests[-1][1]
    assert (recording["RecordingStatus"], recording["RecordingChannels"], recording["RecordingSource"]) == (
        "completed", "2", "OutboundAPI")
    assert recording["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE")
    assert log.ended == "completed"


def test_the_sids_the_harness_mints_are_twilio_shaped_and_never_repeat() -> None:
    """Recordings (the answer and the whole call) and the agent leg of a <Dial>: 34 characters, two letters and
    32 hex digits, and new in every simulator, as in every process (a counter per process repeated them)."""
    documents = {
        "voice/answer": '<Response><Record action="https://ivr.example.com/twilio/r" timeout="2"/></Response>',
        "r": '<Response><Dial action="https://ivr.example.com/twilio/d">+861088880000</Dial></Response>',
        "d": "<Response><Hangup/></Response>",
    }
    minted: list[str] = []
    for _ in range(2):  # two simulators, each with its own media host: as two `huifang simulate call` processes
        app = ScriptedApp(documents)
        _sim(app).run(7, "CA" + "1" * 32, "+86137", Persona())
        forms = {url.split("/twilio/")[1]: form for url, form in app.requests}
        minted += [forms["r"]["RecordingSid"], forms["d"]["DialCallSid"], forms["recording"]["RecordingSid"]]
    assert [sid[:2] for sid in minted] == ["RE", "CA", "RE"] * 2
    assert all(re.fullmatch(r"(CA|RE)[0-9a-f]{32}", sid) for sid in minted), minted
    assert len(set(minted)) == len(minted)
    with pytest.raises(ValueError, match="two capital letters"):
        mint("C")


def test_a_gather_without_input_falls_through_to_the_next_verb() -> None:
    app = ScriptedApp({
        "voice/answer": '<Response><Gather numDigits="1" timeout="6" action="https://ivr.example.com/twilio/g">'
                        '</Gather><Redirect>https://ivr.example.com/twilio/after</Redirect></Response>',
        "after": "<Response><Hangup/></Response>",
    })
    sim = _sim(app)
    started = sim.clock.now()
    sim.run(7, "CA1", "+86137", persona_from({"answers": {"default": "silence"}}, "p"))
    paths = [url.split("/twilio/")[1] for url, _ in app.requests]
    assert "g" not in paths  # no input: the action is not requested
    assert "after" in paths
    assert (sim.clock.now() - started).total_seconds() >= 6 + 7  # ringing, then the gather's timeout


def test_a_busy_callee_gets_no_answer_webhook() -> None:
    app = ScriptedApp({})
    _sim(app).run(7, "CA1", "+86137", persona_from({"pickup": "busy"}, "p"))
    assert [form["CallStatus"] for _, form in app.requests] == ["initiated", "ringing", "busy"]


def test_the_harness_signs_like_twilio() -> None:
    """The published vector (twilio-facts §2.9), sent through the harness's transport to an echoing app."""
    from flask import Flask, request

    echo = Flask("echo")
    echo.add_url_rule("/myapp.php", "echo", lambda: request.headers["X-Twilio-Signature"], methods=["POST"])
    transport = FlaskTransport(echo, "12345", "https://mycompany.com")
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert transport.post("https://mycompany.com/myapp.php?foo=1&bar=2", params) == (200, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> tuple[LocalHarness, str]:
    ivr = build_ivr(engine, tmp_path, prompt_cache)
    return text_mode_harness(ivr), ivr.policy_no


def test_fault_every_webhook_delivered_twice_changes_nothing(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.duplicate_deliveries = True
    result = local.call(policy_no, persona_from({"answers": {"default": "yes", "understand_coverage": "no-then-yes"}},
                                                "p"))
    assert result["result_class"] == "sub_standard"
    assert sum(1 for t in result["transcript"] if t["who"] == "caller" and t["topic"] == "understand_coverage") == 2


def test_fault_answer_recordings_not_ready_at_first(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.recording_not_ready = 2
    result = local.call(policy_no, Persona())
    assert result["result_class"] == "standard"
    assert local.simulator.media.fetches > 2 * len([t for t in result["transcript"] if t["who"] == "caller"]) - 2
    assert local.simulator.media.unauthorised == 0  # the app sends the account's credentials


def test_fault_an_agent_who_never_answers(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.agent_answers = False
    result = local.call(policy_no, persona_from({"answers": {"default": "yes", "knows_is_insurance": "human"}}, "p"))
    assert result["end_reason"] == "completed"  # the robot went on after 人工繁忙
    assert result["answers"]["knows_is_insurance"] == "human_requested"
    assert result["result_class"] == "problem"


def test_a_looping_app_fails_the_call_loudly() -> None:
    app = ScriptedApp({"voice/answer": "<Response><Redirect>https://ivr.example.com/twilio/voice/answer</Redirect>"
                                       "</Response>"})
    with pytest.raises(SimulationError, match="a loop"):
        _sim(app).run(7, "CA1", "+86137", Persona())


def test_fault_a_ringing_callback_arriving_after_the_end_changes_nothing(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.late_ringing = True
    result = local.call(policy_no, Persona())
    assert (result["outcome"], result["result_class"]) == ("completed", "standard")
    with local.services.sessions() as session:
        from storage.models import Call, CallbackTask

        call = session.query(Call).one()
        assert (call.twilio_status, session.query(CallbackTask).one().attempts) == ("completed", 1)


def test_fault_an_absent_recording_means_another_callback(harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.recordings_absent = 1
    result = local.call(policy_no, Persona())
    assert result["result_class"] == "standard"
    assert "recording_missing" in result["reason_codes"]
    with local.services.sessions() as session:
        from storage.models import CallbackTask, Recording

        assert session.query(Recording).one().status.value == "absent"
        assert session.query(CallbackTask).one().status.value == "queued"  # rule 19: called again


def test_fault_a_webhook_slower_than_15_s_ends_a_call_without_fallback_with_the_application_error(
        harness: tuple[LocalHarness, str]) -> None:
    local, policy_no = harness
    local.simulator.fallback_url = None  # with one, the fallback goes on (test_fallback.py)
    local.simulator.slow_webhook = 6  # initiated, ringing, answer, in-progress, greeting turn, then the birthday
    result = local.call(policy_no, Persona())
    assert result["outcome"] == "hangup"  # Twilio gave up: for the app the caller left mid-flow
    assert result["end_reason"] == "hangup"
    assert [t["topic"] for t in result["transcript"] if t["who"] == "caller"] == ["identity", "identity"]
