"""The voice webhooks, mailroom-style: a signed request → the TwiML (parsed as XML) and the database state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flows.vocab import CaseType, ResultClass
from kit.vocab import CallbackChannel, CallOutcome, TaskStatus
from speech.lexicon import Intent
from storage.models import AuditEvent
from tests.ivr.conftest import BASE, BIRTHDAY, Ivr, sid, verbs


def test_answered_call_starts_the_flow_with_the_greeting_and_records_the_answer(ivr: Ivr) -> None:
    twiml = ivr.answer_call()
    assert verbs(twiml) == ["Play", "Record", "Redirect"]
    record = twiml.find("Record")
    assert record is not None
    assert record.get("action") == f"{BASE}/twilio/voice/turn?seq=1"
    assert record.get("playBeep") == "false"
    assert record.get("timeout") == "2"
    assert set("0123456789*#") == set(record.get("finishOnKey", ""))
    assert twiml.findtext("Redirect") == f"{BASE}/twilio/voice/turn?seq=1&no_input=1"
    assert ivr.prompts_of(twiml) == ["您好，这里是汇方人寿客服中心，本次通话将全程录音。请问您是赵敏女士本人吗？"]
    call = ivr.call()
    assert (call.flow_id, call.flow_version, call.language) == ("traditional", 1, "zh-CN")
    assert call.flow_hash is not None
    assert len(call.flow_hash) == 64
    assert call.outcome is CallOutcome.IN_PROGRESS
    assert call.turn_seq == 1
    assert ivr.task().status is TaskStatus.IN_PROGRESS


def test_prompt_audio_is_served_from_the_cache(ivr: Ivr) -> None:
    twiml = ivr.answer_call()
    url = twiml.findtext("Play") or ""
    audio = ivr.client.get(url.removeprefix(BASE))
    assert audio.status_code == 200
    assert audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF"
    assert ivr.client.get("/prompts/" + "0" * 64 + ".wav").status_code == 404
    assert ivr.client.get("/prompts/not-a-key.wav").status_code == 404


def test_identity_is_keyed_in_with_a_gather_followed_by_a_redirect(ivr: Ivr) -> None:
    ivr.answer_call()
    twiml = ivr.ok(ivr.turn(digits="1"))
    assert verbs(twiml) == ["Gather", "Redirect"]
    gather = twiml.find("Gather")
    assert gather is not None
    assert (gather.get("input"), gather.get("numDigits")) == ("dtmf", "4")
    assert [child.tag for child in gather] == ["Play"]
    after = ivr.ok(ivr.turn(digits=BIRTHDAY))
    assert "Record" in verbs(after)
    keyed = [e for e in ivr.events() if e.kind == "answer"][-1]
    assert (keyed.topic, keyed.detail["digits"], keyed.detail["source"]) == ("identity", BIRTHDAY, "keypad")


def test_a_wrong_birthday_twice_ends_the_call_as_identity_failed(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.turn(digits="1")
    retry = ivr.ok(ivr.turn(digits="0101"))
    assert verbs(retry) == ["Gather", "Redirect"]
    end = ivr.ok(ivr.turn(digits="0202"))
    assert verbs(end) == ["Play", "Hangup"]
    call = ivr.call()
    assert (call.end_reason, call.result_class, call.outcome) == ("identity_failed", ResultClass.VERIFICATION,
                                                                 CallOutcome.COMPLETED)
    assert [(c.type, c.reason, c.call_id) for c in ivr.cases()] == [
        (CaseType.VERIFICATION_CASE, "identity_failed", call.id)]
    assert ivr.task().status is TaskStatus.COMPLETED


def test_spoken_yes_is_fetched_recognised_and_advances(ivr: Ivr) -> None:
    first = ivr.run_to_question()
    spoken = ivr.ok(ivr.turn(speech=Intent.YES))
    assert ivr.recognizer.heard[-1].rate == 8000
    assert abs(ivr.recognizer.heard[-1].seconds - 1.0) < 0.01  # the audio served at RecordingUrl
    assert ivr.prompts_of(spoken) != ivr.prompts_of(first)
    answer = [e for e in ivr.events() if e.kind == "answer"][-1]
    assert answer.detail["intent"] == "yes"
    assert answer.detail["recording_sid"].startswith("RE")
    assert ivr.call().state["answers"]  # type: ignore[index]


def test_keypad_press_during_a_record_is_the_answer(ivr: Ivr) -> None:
    ivr.run_to_question()
    before = ivr.call().state["index"]  # type: ignore[index]
    ivr.ok(ivr.turn(digits="1"))
    assert ivr.call().state["index"] > before  # type: ignore[index]
    assert ivr.recognizer.heard == []


def test_no_gets_the_explanation_and_a_reask_then_yes_is_clarified(ivr: Ivr) -> None:
    ivr.run_to_question()
    _answer_yes_until_a_question_with_an_explanation(ivr)
    topic = _current_topic(ivr)
    explained = ivr.ok(ivr.turn(speech=Intent.NO))
    roles = [e.detail.get("role") for e in ivr.events()[-2:]]
    assert roles == ["explanation", "question"]
    assert "Record" in verbs(explained)
    ivr.ok(ivr.turn(speech=Intent.YES))
    assert ivr.call().state["answers"][topic] == "clarified"  # type: ignore[index]


def test_silence_is_reprompted_then_keypad_only(ivr: Ivr) -> None:
    ivr.run_to_question()
    again = ivr.ok(ivr.turn(no_input=True))
    assert ivr.prompts_of(again)[0] == "抱歉，我没有听清您的回答。"
    ivr.ok(ivr.turn(no_input=True))
    keypad = ivr.ok(ivr.turn(no_input=True))
    assert verbs(keypad) == ["Gather", "Redirect"]
    gather = keypad.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert ivr.call().state["keypad_only"] is True  # type: ignore[index]


def test_unintelligible_speech_is_reprompted(ivr: Ivr) -> None:
    ivr.run_to_question()
    index = ivr.call().state["index"]  # type: ignore[index]
    again = ivr.ok(ivr.turn(speech=Intent.UNKNOWN))
    assert ivr.prompts_of(again)[0] == "抱歉，我没有听清您的回答。"
    assert ivr.call().state["index"] == index  # type: ignore[index]


def test_a_whole_call_answered_yes_is_standard(ivr: Ivr) -> None:
    ivr.run_to_question()
    for _ in range(40):
        twiml = ivr.ok(ivr.turn(digits="1"))
        if verbs(twiml)[-1] == "Hangup":
            break
    call = ivr.call()
    assert (call.end_reason, call.result_class, call.outcome) == ("completed", ResultClass.STANDARD,
                                                                 CallOutcome.COMPLETED)
    task = ivr.task()
    assert (task.status, task.result_class) == (TaskStatus.COMPLETED, ResultClass.STANDARD)
    assert ivr.cases() == []
    said = [e.text for e in ivr.events() if e.kind == "prompt"]
    assert any("犹豫期" in text for text in said)


def test_hangup_during_a_record_ends_the_flow_as_hangup(ivr: Ivr) -> None:
    ivr.run_to_question()
    twiml = ivr.ok(ivr.turn(digits="hangup"))
    assert verbs(twiml) == ["Hangup"]
    call = ivr.call()
    assert (call.end_reason, call.outcome, call.result_class) == ("hangup", CallOutcome.HANGUP,
                                                                 ResultClass.VERIFICATION)
    assert [c.reason for c in ivr.cases()] == ["refused"]  # identity was confirmed: the applicant hung up


def test_a_repeated_turn_gets_the_same_twiml_and_changes_nothing(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    first = ivr.turn(digits="1", seq=seq)
    events = len(ivr.events())
    again = ivr.turn(digits="1", seq=seq)
    assert again.get_data() == first.get_data()
    assert len(ivr.events()) == events
    assert ivr.call().turn_seq == seq + 1


def test_a_stale_turn_is_refused_with_409(ivr: Ivr) -> None:
    ivr.run_to_question()
    seq = ivr.call().turn_seq
    ivr.turn(digits="1", seq=seq)
    ivr.turn(digits="1", seq=seq + 1)
    stale = ivr.turn(digits="1", seq=seq)
    assert stale.status_code == 409
    assert f"turn {seq} of call {sid('CA1')} is stale" in stale.get_data(as_text=True)


def test_a_repeated_answered_call_webhook_changes_nothing(ivr: Ivr) -> None:
    first = ivr.post(f"/twilio/voice/answer?task={ivr.task_id}", ivr.params("CA1"))
    again = ivr.post(f"/twilio/voice/answer?task={ivr.task_id}", ivr.params("CA1"))
    assert again.get_data() == first.get_data()
    assert ivr.call().turn_seq == 1
    assert len([e for e in ivr.events() if e.kind == "prompt"]) == 1


@pytest.mark.parametrize("answered_by", ["machine_start", "machine_end_beep", "fax"])
def test_a_machine_is_hung_up_on_at_once(ivr: Ivr, answered_by: str) -> None:
    twiml = ivr.answer_call(AnsweredBy=answered_by)
    assert verbs(twiml) == ["Hangup"]
    assert ivr.call().outcome is CallOutcome.MACHINE
    assert ivr.call().flow_id is None
    ivr.status("CA1", "completed", CallDuration="4")
    assert ivr.task().status is TaskStatus.QUEUED  # the dialer tries again
    assert ivr.cases() == []


def test_a_human_answer_starts_the_flow(ivr: Ivr) -> None:
    assert "Record" in verbs(ivr.answer_call(AnsweredBy="human"))
    assert ivr.call().answered_by == "human"


def test_a_call_past_its_time_limit_ends_politely(ivr: Ivr) -> None:
    ivr.run_to_question()
    ivr.clock.advance(timedelta(seconds=ivr.svc.settings.ivr.max_call_seconds + 1))
    twiml = ivr.ok(ivr.turn(digits="1"))
    assert verbs(twiml) == ["Play", "Hangup"]
    call = ivr.call()
    assert call.end_reason == "language_barrier"
    assert [c.type for c in ivr.cases()] == [CaseType.DIALECT_CASE]


def test_unknown_call_and_malformed_parameters_are_4xx_with_a_clear_body(ivr: Ivr) -> None:
    unknown = ivr.post("/twilio/voice/turn?seq=1", ivr.params("CA-nobody", Digits="1"))
    assert unknown.status_code == 404
    assert f"unknown CallSid '{sid('CA-nobody')}'" in unknown.get_data(as_text=True)
    no_sid = ivr.post("/twilio/voice/turn?seq=1", {"Digits": "1"})
    assert (no_sid.status_code, no_sid.get_data(as_text=True)) == (400, "missing parameter CallSid\n")
    bad_seq = ivr.post("/twilio/voice/turn?seq=x", ivr.params("CA1"))
    assert bad_seq.status_code == 400
    assert "query parameter seq must be a whole number" in bad_seq.get_data(as_text=True)
    no_task = ivr.post("/twilio/voice/answer", ivr.params("CA-new"))
    assert no_task.status_code == 404
    assert "no task parameter" in no_task.get_data(as_text=True)


def test_prepare_renders_every_prompt_before_dialing(ivr: Ivr) -> None:
    from calls.service import prepare

    prepare(ivr.svc.sessions, ivr.svc.calls, ivr.task_id)
    before = ivr.svc.prompts.late_renders
    ivr.run_to_question()
    for _ in range(5):
        ivr.turn(digits="1")
    assert ivr.svc.prompts.late_renders == before


def _current_topic(ivr: Ivr) -> str:
    state = ivr.call().state
    assert state is not None
    flow = ivr.svc.library.flows["traditional"]
    topic = flow.step(state["plan"][state["index"]]).topic
    assert topic is not None
    return str(topic)


def _answer_yes_until_a_question_with_an_explanation(ivr: Ivr) -> None:
    flow = ivr.svc.library.flows["traditional"]
    for _ in range(20):
        state = ivr.call().state
        assert state is not None
        if flow.step(state["plan"][state["index"]]).explain:
            return
        ivr.turn(digits="1")
    raise AssertionError("no question with an explanation")


def test_the_same_turn_delivered_concurrently_is_taken_once(ivr: Ivr) -> None:
    """Twilio retries while the first delivery is still running: the call row lock serialises them."""
    import threading

    ivr.run_to_question()
    seq = ivr.call().turn_seq
    events = len(ivr.events())
    bodies: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def deliver() -> None:
        client = ivr.app.test_client()
        from twilio.request_validator import RequestValidator

        from tests.ivr.conftest import TOKEN

        form = ivr.params("CA1", Digits="1")
        path = f"/twilio/voice/turn?seq={seq}"
        signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
        response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        with lock:
            bodies.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in bodies} == {200}
    assert len({body for _, body in bodies}) == 1
    assert ivr.call().turn_seq == seq + 1
    answers = [e for e in ivr.events()[events:] if e.kind == "answer"]
    assert len(answers) == 1


def test_key_9_after_identity_ends_the_call_and_puts_the_callback_on_the_e_callback(ivr: Ivr) -> None:
    """The applicant may choose the callback method (docs/domain.md R7): key 9 at a question ends the call with
    a goodbye, the task leaves it queued on the e-callback channel for its SMS link, no case is opened, the
    move is on the audit trail, and the dialer's rules do not call again."""
    ivr.run_to_question()
    twiml = ivr.ok(ivr.turn(digits="9"))
    assert verbs(twiml)[-1] == "Hangup"
    assert "短信" in ivr.prompts_of(twiml)[0]
    call, task = ivr.call(), ivr.task()
    assert (call.end_reason, call.result_class, call.reason_codes) == (
        "link_requested", ResultClass.VERIFICATION, ["ecallback_chosen"])
    assert (task.status, task.channel, task.result_class, task.next_attempt_at) == (
        TaskStatus.QUEUED, CallbackChannel.ECALLBACK, None, None)
    assert ivr.cases() == []
    with ivr.session() as s:
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "channel")).one()
        assert (entry.operator, entry.detail) == ("system", "phone → ecallback")
        assert call.call_sid in entry.reason
