"""Property tests on the flow engine: whatever a caller says, in any order, every shipped flow ends within a
bounded number of turns, and the classification of where it ended is one of the four result classes with a
reason for anything but `standard`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.classify import classify
from flows.engine import CallerInput, EngineLimits, FlowEngine, InputKind, Phase
from flows.library import load_library
from flows.vocab import ResultClass
from tests.flows.facts_factory import facts

LIB = load_library()
MESSAGES = LIB.messages["zh-CN"]
LIMITS = EngineLimits()
HANDOFF_REPORTS = {InputKind.TRANSFERRED, InputKind.AGENT_UNAVAILABLE, InputKind.HANGUP}

POLICIES = st.fixed_dictionaries({
    "product_type": st.sampled_from(["traditional", "participating", "universal", "investment_linked", "health"]),
    "variant": st.sampled_from(["A", "B"]),
    "applicant_age": st.integers(min_value=18, max_value=85),
    "insured_is_applicant": st.booleans(),
    "payment_frequency": st.sampled_from(["annual", "single"]),
    "dual_recorded": st.booleans(),
})
INPUTS = st.one_of(
    st.sampled_from([InputKind.YES, InputKind.NO, InputKind.REPEAT, InputKind.HUMAN, InputKind.UNKNOWN,
                     InputKind.SILENCE, InputKind.TRANSFERRED, InputKind.AGENT_UNAVAILABLE,
                     InputKind.HANGUP]).map(CallerInput),
    # keys: the right birthday, a wrong one, junk, the keypad's answers
    st.sampled_from(["0517", "1231", "", "9", "1", "2", "0", "*", "05170517"]).map(
        lambda d: CallerInput(InputKind.DIGITS, digits=d)),
)


@settings(max_examples=300, deadline=None)
@given(policy=POLICIES, said=st.lists(INPUTS, max_size=120))
def test_any_answers_end_in_one_of_the_four_classes_within_the_turn_limit(policy: dict[str, object],
                                                                           said: list[CallerInput]) -> None:
    eng = FlowEngine(LIB.select(facts(**policy)), facts(**policy), MESSAGES, LIMITS)
    state, turn = eng.start()
    answers = iter(said)
    steps = 0
    while not turn.ended:
        given_ = next(answers, CallerInput(InputKind.SILENCE))  # a caller who stops answering
        if state.phase is Phase.HANDOFF and given_.kind not in HANDOFF_REPORTS:
            given_ = CallerInput(InputKind.AGENT_UNAVAILABLE)  # the IVR reports how the hand-off went, nothing else
        state, turn = eng.step(state, given_)
        steps += 1
        assert steps <= LIMITS.max_turns + 1, f"no end after {steps} turns: {state}"
    assert state.end_reason is not None
    result = classify(state.answers, state.end_reason, state.identity_verified)
    assert result.result_class in set(ResultClass)
    if result.result_class is not ResultClass.STANDARD:
        assert result.reason_codes, f"{result.result_class} without a reason: {state}"
    if not state.identity_verified:  # only "are you the applicant?" may be answered before the birthday check
        assert set(state.answers) <= {"identity"}
