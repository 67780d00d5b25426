"""flows.review: a review's corrections → the corrected topic answers (pure)."""

from __future__ import annotations

from flows.engine import InputKind
from flows.model import OnNo
from flows.review import HeardAnswer, corrected_answers, derive

RULES = {"understand_coverage": OnNo.EXPLAIN, "signed_in_person": OnNo.RECORD}


def test_a_yes_that_was_a_no_on_an_explain_step_is_unresolved() -> None:
    heard = [HeardAnswer(7, "understand_coverage", "yes"), HeardAnswer(9, "signed_in_person", "yes")]
    answers = {"understand_coverage": "yes", "signed_in_person": "yes"}
    assert corrected_answers(answers, heard, {7: "no"}, RULES) == {"understand_coverage": "unresolved",
                                                                    "signed_in_person": "yes"}


def test_no_then_yes_is_clarified_and_a_record_step_takes_no() -> None:
    heard = [HeardAnswer(3, "understand_coverage", "no"), HeardAnswer(5, "understand_coverage", "no"),
             HeardAnswer(8, "signed_in_person", "digits", "1")]
    answers = {"understand_coverage": "unresolved", "signed_in_person": "yes"}
    assert corrected_answers(answers, heard, {5: "yes", 8: "no"}, RULES) == {
        "understand_coverage": "clarified", "signed_in_person": "no"}


def test_an_answer_with_nothing_decisive_keeps_the_calls() -> None:
    heard = [HeardAnswer(3, "understand_coverage", "yes")]
    assert corrected_answers({"understand_coverage": "yes"}, heard, {3: "silence"}, RULES) == {
        "understand_coverage": "yes"}
    assert derive(OnNo.EXPLAIN, [InputKind.HUMAN]) == "human_requested"
    assert derive(OnNo.EXPLAIN, [InputKind.NO, InputKind.REPEAT]) == "unresolved"
