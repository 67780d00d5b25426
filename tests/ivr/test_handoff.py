"""Hand-off to a human: <Dial> the agent line, the agent's context page, and the agent's outcome."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from flows.vocab import CaseType, ResultClass
from kit.vocab import AgentOutcome, CaseStatus
from speech.cache import PromptCache
from speech.lexicon import Intent
from tests.ivr.conftest import BASE, Ivr, build_ivr, sid, verbs


def _ask_for_a_person(ivr: Ivr) -> None:
    ivr.run_to_question()
    ivr.turn(digits="1")  # one question answered first, so the hand-off has a topic under way


def test_pressing_zero_dials_the_agent_with_an_action_url(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    seq = ivr.call().turn_seq
    twiml = ivr.ok(ivr.turn(digits="0"))
    assert verbs(twiml) == ["Play", "Dial"]
    assert ivr.prompts_of(twiml) == ["好的，正在为您转接人工客服，请稍候。"]
    dial = twiml.find("Dial")
    assert dial is not None
    assert dial.get("action") == f"{BASE}/twilio/voice/dial?seq={seq + 1}"
    assert dial.get("timeout") == "30"
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.findtext("Number") == "+861088880000"
    call = ivr.call()
    assert call.handoff_topic is not None
    assert call.state is not None
    assert call.state["answers"][call.handoff_topic] == "human_requested"


def test_saying_rengong_is_a_request_for_a_person(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    assert "Dial" in verbs(ivr.ok(ivr.turn(speech=Intent.HUMAN)))


def test_an_answered_hand_off_ends_the_flow_and_the_agent_finishes_the_classification(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    ivr.turn(digits="0")
    seq = ivr.call().turn_seq
    end = ivr.ok(ivr.post(f"/twilio/voice/dial?seq={seq}", ivr.params("CA1", DialCallStatus="completed",
                                                                       DialCallSid="CA-agent", DialCallDuration="95")))
    assert verbs(end) == ["Hangup"]
    call = ivr.call()
    assert call.end_reason == "handed_off"
    assert call.result_class is ResultClass.PROBLEM  # until the agent says otherwise
    assert [c.type for c in ivr.cases()] == [CaseType.CONTRACT_QUALITY_CASE]

    _client, page = ivr.agent_page()
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ivr.policy_no in html
    assert call.handoff_topic is not None
    assert call.handoff_topic in html
    assert "要求人工解释" in html

    done = ivr.agent_outcome("clarified", note="已解释")
    assert done.status_code == 200
    after = ivr.call()
    assert after.agent_outcome is AgentOutcome.CLARIFIED
    assert after.result_class is not ResultClass.PROBLEM
    assert [c.status for c in ivr.cases()] == [CaseStatus.CLOSED]
    assert ivr.task().result_class is after.result_class
    # the same report again changes nothing
    events = len(ivr.events())
    assert ivr.agent_outcome("clarified").status_code == 200
    assert len(ivr.events()) == events


def test_not_clarified_keeps_the_problem(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    ivr.turn(digits="0")
    ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}", ivr.params("CA1", DialCallStatus="answered"))
    ivr.agent_outcome("not_clarified")
    assert ivr.call().result_class is ResultClass.PROBLEM
    assert [c.status for c in ivr.cases()] == [CaseStatus.OPEN]


def test_an_unanswered_hand_off_tells_the_caller_and_goes_on(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    ivr.turn(digits="0")
    topic = ivr.call().handoff_topic
    twiml = ivr.ok(ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}",
                            ivr.params("CA1", DialCallStatus="no-answer")))
    assert ivr.prompts_of(twiml)[0].startswith("目前人工客服繁忙，我们已记录您的问题，稍后会有专人与您联系解答")
    assert "Record" in verbs(twiml)
    call = ivr.call()
    assert call.state is not None
    assert call.state["phase"] == "ask"
    assert call.state["answers"][topic] == "human_requested"


def test_without_an_agent_line_the_caller_hears_the_branch_will_call(engine: Engine, tmp_path: Path,
                                                                    prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache, agent_target="")
    with ivr.http:
        _ask_for_a_person(ivr)
        twiml = ivr.ok(ivr.turn(digits="0"))
    assert "Dial" not in verbs(twiml)
    assert ivr.prompts_of(twiml)[0].startswith("目前人工客服繁忙")


def test_sip_and_client_agent_lines(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache, agent_kind="sip", agent_target="sip:agent@pbx.example.com")
    with ivr.http:
        _ask_for_a_person(ivr)
        dial = ivr.ok(ivr.turn(digits="0")).find("Dial")
    assert dial is not None
    assert dial.findtext("Sip") == "sip:agent@pbx.example.com"


def test_the_agent_page_needs_the_calls_link(ivr: Ivr) -> None:
    _ask_for_a_person(ivr)
    ivr.turn(digits="0")
    call = sid("CA1")
    assert ivr.client.get(f"/agent/calls/{call}", base_url=BASE).status_code == 403
    assert ivr.client.get(f"/agent/calls/{call}?token=" + "0" * 32, base_url=BASE).status_code == 403
    other = ivr.svc.agent_link(sid("CA2"), "+861088880000").split("?")[1]
    assert ivr.client.get(f"/agent/calls/{call}?{other}", base_url=BASE).status_code == 403
    bad = ivr.agent_outcome("maybe")
    assert (bad.status_code, bad.get_data(as_text=True)) == (400, "outcome must be clarified or not_clarified, "
                                                                  "got 'maybe'\n")


def _elderly_ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Ivr:
    from datetime import date

    from intake.identity import make_resident_id
    from tests.factories import policy_row

    birth = date(1958, 5, 17)  # 68 on the call day; the birthday keys stay 0517
    row = policy_row(applicant_birth_date=birth.isoformat(),
                     applicant_id_no=make_resident_id("110105", birth, 8, male=False))
    return build_ivr(engine, tmp_path, prompt_cache, row=row, human_first_min_age=60)


def test_human_first_hands_an_elderly_applicant_to_a_person_after_identity(engine: Engine, tmp_path: Path,
                                                                          prompt_cache: PromptCache) -> None:
    ivr = _elderly_ivr(engine, tmp_path, prompt_cache)
    with ivr.http:
        ivr.answer_call()
        ivr.turn(digits="1")
        twiml = ivr.ok(ivr.turn(digits="0517"))
        assert verbs(twiml) == ["Play", "Dial"]
        assert ivr.prompts_of(twiml)[0].startswith("为了更好地为您服务，接下来由人工客服为您完成回访")
        call = ivr.call()
        assert call.handoff_reason == "human_first"
        ivr.post(f"/twilio/voice/dial?seq={call.turn_seq}", ivr.params("CA1", DialCallStatus="completed"))
        assert ivr.call().result_class is ResultClass.PROBLEM  # with a person, result pending their word
        ivr.agent_outcome("clarified")
    done = ivr.call()
    assert done.result_class is ResultClass.STANDARD  # the agent completed the callback
    assert [c.status for c in ivr.cases()] == [CaseStatus.CLOSED]


def test_human_first_with_nobody_free_the_robot_asks(engine: Engine, tmp_path: Path,
                                                     prompt_cache: PromptCache) -> None:
    ivr = _elderly_ivr(engine, tmp_path, prompt_cache)
    with ivr.http:
        ivr.answer_call()
        ivr.turn(digits="1")
        ivr.turn(digits="0517")
        twiml = ivr.ok(ivr.post(f"/twilio/voice/dial?seq={ivr.call().turn_seq}",
                                ivr.params("CA1", DialCallStatus="busy")))
    assert ivr.prompts_of(twiml)[0].startswith("目前人工客服繁忙，接下来由语音助手继续为您回访")
    assert "Record" in verbs(twiml)
    state = ivr.call().state
    assert state is not None
    assert (state["phase"], state["answers"]) == ("ask", {"identity": "yes"})


def test_human_first_leaves_younger_applicants_with_the_robot(engine: Engine, tmp_path: Path,
                                                              prompt_cache: PromptCache) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache, human_first_min_age=60)
    with ivr.http:
        assert "Dial" not in verbs(ivr.run_to_question())
