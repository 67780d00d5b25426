"""Status callbacks: attempts counted from initiated/ringing, outcomes, duplicates and out-of-order delivery."""

from __future__ import annotations

import pytest

from flows.vocab import ResultClass
from kit.vocab import CallOutcome, TaskStatus
from tests.ivr.conftest import Ivr


def test_progress_counts_one_attempt_and_the_answer_time(ivr: Ivr) -> None:
    for status, seq in (("initiated", "0"), ("ringing", "1"), ("in-progress", "2")):
        assert ivr.status("CA1", status, SequenceNumber=seq,
                          Timestamp=f"Wed, 25 Nov 2026 02:00:0{seq} +0000").status_code == 200
    call = ivr.call()
    assert call.twilio_status == "in-progress"
    assert call.started_at is not None
    assert call.started_at.isoformat() == "2026-11-25T02:00:00+00:00"
    assert call.answered_at is not None
    assert call.answered_at.isoformat() == "2026-11-25T02:00:02+00:00"
    assert ivr.task().attempts == 1


def test_a_repeated_callback_changes_nothing(ivr: Ivr) -> None:
    assert ivr.status("CA1", "ringing").get_data(as_text=True) == "taken\n"
    events = len(ivr.events())
    again = ivr.status("CA1", "ringing")
    assert again.get_data(as_text=True) == "already taken\n"
    assert len(ivr.events()) == events
    assert ivr.task().attempts == 1


def test_an_older_callback_after_a_newer_one_changes_nothing(ivr: Ivr) -> None:
    ivr.status("CA1", "busy", CallDuration="0")
    ivr.status("CA1", "ringing")
    call = ivr.call()
    assert (call.twilio_status, call.outcome) == ("busy", CallOutcome.BUSY)
    assert ivr.task().attempts == 1


@pytest.mark.parametrize(("status", "outcome", "counted"), [
    ("busy", CallOutcome.BUSY, 1),
    ("no-answer", CallOutcome.NO_ANSWER, 1),
    ("failed", CallOutcome.FAILED, 0),
    ("canceled", CallOutcome.CANCELED, 0),
])
def test_unanswered_outcomes(ivr: Ivr, status: str, outcome: CallOutcome, counted: int) -> None:
    ivr.status("CA1", status)
    call = ivr.call()
    assert call.outcome is outcome
    assert call.finished_at is not None
    assert ivr.task().attempts == counted
    assert ivr.cases() == []


def test_completed_mid_flow_is_a_hangup_and_is_classified(ivr: Ivr) -> None:
    ivr.status("CA1", "ringing")
    ivr.run_to_question()
    ivr.status("CA1", "completed", CallDuration="35")
    call = ivr.call()
    assert (call.outcome, call.end_reason, call.duration_s) == (CallOutcome.HANGUP, "hangup", 35)
    assert call.result_class is ResultClass.VERIFICATION
    assert ivr.task().status is TaskStatus.COMPLETED
    late_turn = ivr.turn(digits="1", seq=call.turn_seq)
    assert [child.tag for child in ivr.ok(late_turn)] == ["Hangup"]
    assert ivr.call().result_class is ResultClass.VERIFICATION


def test_hangup_before_identity_is_retried_not_closed(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.status("CA1", "completed", CallDuration="3")
    call = ivr.call()
    assert call.outcome is CallOutcome.HANGUP
    assert ivr.task().status is TaskStatus.QUEUED
    assert ivr.cases() == []


def test_completed_after_the_flow_ended_keeps_the_result(ivr: Ivr) -> None:
    ivr.answer_call()
    ivr.turn(digits="1")
    ivr.turn(digits="0101")
    ivr.turn(digits="0202")  # identity failed: the flow ended
    ivr.status("CA1", "completed", CallDuration="40")
    call = ivr.call()
    assert (call.outcome, call.end_reason, call.duration_s) == (CallOutcome.COMPLETED, "identity_failed", 40)
    assert len(ivr.cases()) == 1


def test_completed_without_an_answer_webhook_is_no_answer(ivr: Ivr) -> None:
    ivr.status("CA1", "completed", CallDuration="0")
    assert ivr.call().outcome is CallOutcome.NO_ANSWER


def test_bad_status_parameters_are_400(ivr: Ivr) -> None:
    bad = ivr.status("CA1", "exploded")
    assert bad.status_code == 400
    assert "CallStatus 'exploded' is not one of" in bad.get_data(as_text=True)
    stamp = ivr.status("CA1", "ringing", Timestamp="yesterday")
    assert stamp.status_code == 400
    assert "Timestamp 'yesterday'" in stamp.get_data(as_text=True)
