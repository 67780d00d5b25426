"""The dialer loop on SQLite and PostgreSQL: claiming, priority, hours, placement outcomes, leases."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from dialer.loop import TickResult
from dialer.telephony import PlacementError, PlacementProblem
from flows.vocab import CaseType
from kit.vocab import HoldReason, QuestionnaireVariant, TaskStatus
from storage.models import Call, CallbackTask, TaskHold
from tests.dialer.conftest import Bench, local
from tests.factories import policy_row


def _rows(*signed: str) -> list[dict[str, str]]:
    return [policy_row(policy_no=f"P{i}", receipt_signed_date=s, receipt_logged_date=s) for i, s in enumerate(signed)]


def test_a_tick_claims_and_places_due_tasks_earliest_deadline_first(bench: Bench) -> None:
    bench.load(_rows("2026-11-20", "2026-11-16", "2026-11-18"))
    result = bench.dialer().tick()
    assert (result.claimed, result.placed) == (3, 3)
    assert bench.dialled() == bench.task_ids("P1", "P2", "P0")
    request = bench.provider.placed[0]
    assert request.answer_url == f"http://127.0.0.1:8080/twilio/voice/answer?task={request.task_id}"
    assert request.status_url == f"http://127.0.0.1:8080/twilio/voice/status?task={request.task_id}"
    assert request.fallback_url == "http://127.0.0.1:8080/twilio/voice/fallback"  # no fallback host: this one
    assert request.caller_id == "+861085550000"
    assert request.to.startswith("+86137")
    task = bench.task("P1")
    assert task.status is TaskStatus.IN_PROGRESS
    assert task.attempts == 0  # attempts are counted from Twilio's callbacks, not from placing
    with bench.session() as s:
        assert s.query(Call).filter_by(task_id=task.id).one().call_sid == "CA" + "1".rjust(32, "0")
    assert bench.dialer().tick().claimed == 0  # nothing twice


def test_every_call_names_the_fallback_host_when_one_is_configured(bench: Bench) -> None:
    bench.load(_rows("2026-11-20", "2026-11-16"))
    bench.settings = dataclasses.replace(bench.settings, ivr=dataclasses.replace(
        bench.settings.ivr, public_base_url="https://ivr.example.com", fallback_base_url="https://ivr2.example.com"))
    assert bench.dialer().tick().placed == 2
    assert {r.fallback_url for r in bench.provider.placed} == {"https://ivr2.example.com/twilio/voice/fallback"}
    assert {r.answer_url.split("/twilio/")[0] for r in bench.provider.placed} == {"https://ivr.example.com"}


def test_appointments_due_come_first_then_fewest_attempts(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-16", "2026-11-20"))
    bench.update("P0", attempts=2)
    bench.update("P2", appointment_at=local("2026-11-25T09:30:00"))
    bench.dialer().tick()
    assert bench.dialled() == bench.task_ids("P2", "P1", "P0")


def test_a_future_appointment_or_retry_time_waits(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-16"))
    bench.update("P0", appointment_at=local("2026-11-25T15:00:00"))
    bench.update("P1", next_attempt_at=local("2026-11-25T12:00:00"))
    assert bench.dialer().tick().claimed == 0
    bench.clock.set(local("2026-11-25T12:00:00"))
    bench.dialer().tick()
    assert bench.dialled() == bench.task_ids("P1")


def test_outside_the_window_only_appointments_are_called_and_never_at_night(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-16"))
    bench.update("P0", appointment_at=local("2026-11-26T08:15:00"))
    bench.clock.set(local("2026-11-25T21:01:00"))
    assert bench.dialer().tick().claimed == 0
    bench.clock.set(local("2026-11-26T07:59:00"))
    assert bench.dialer().tick().claimed == 0  # night, and the appointment is not due yet
    bench.clock.set(local("2026-11-26T08:20:00"))
    bench.dialer().tick()
    assert bench.dialled() == bench.task_ids("P0")
    bench.clock.set(local("2026-11-26T08:59:00"))
    assert bench.dialer().tick().claimed == 0
    bench.clock.set(local("2026-11-26T09:00:00"))
    bench.dialer().tick()
    assert bench.dialled() == bench.task_ids("P0", "P1")


def test_no_calls_on_a_statutory_holiday(bench: Bench) -> None:
    bench.load(_rows("2026-11-16"))
    bench.clock.set(local("2026-10-02T10:00:00"))  # National Day; the task is not open yet either way
    assert bench.dialer().tick().claimed == 0


def test_a_task_past_its_deadline_is_called_late_with_variant_b(bench: Bench) -> None:
    bench.load([policy_row(policy_no="P0", issue_date="2026-11-01", receipt_signed_date="2026-11-05",
                           receipt_logged_date="2026-11-05")])  # cooling-off ended 2026-11-20
    bench.update("P0", questionnaire_variant=QuestionnaireVariant.A)  # as planned when it opened
    bench.dialer().tick()
    assert bench.task("P0").questionnaire_variant is QuestionnaireVariant.B


def test_an_invalid_number_is_held_with_a_wrong_number_case_and_never_retried(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-16"))
    bench.provider.errors = [PlacementError(PlacementProblem.INVALID_NUMBER, "Twilio 21211: Invalid 'To'", 21211)]
    result = bench.dialer().tick()
    assert (result.held, result.placed) == (1, 1)
    held = bench.task("P0")
    assert held.status is TaskStatus.HELD
    assert [(c.type, c.reason) for c in bench.cases()] == [(CaseType.VERIFICATION_CASE, "wrong_number")]
    assert "21211" in bench.cases()[0].detail
    bench.clock.advance(timedelta(days=1))
    assert bench.dialer().tick().claimed == 0
    # the branch corrects the number: re-importing the policy releases the hold and the task is due again
    bench.load([policy_row(policy_no="P0", receipt_signed_date="2026-11-16", receipt_logged_date="2026-11-16",
                           applicant_phone="13899990000", applicant_id_no=_id_of(bench, "P0"))])
    assert bench.task("P0").status is TaskStatus.QUEUED
    with bench.session() as s:
        hold = s.query(TaskHold).filter_by(task_id=held.id).one()
        assert (hold.reason, hold.source, hold.released_at is not None) == (HoldReason.WRONG_NUMBER, "dialer", True)


def _id_of(bench: Bench, policy_no: str) -> str:
    from storage.models import Policy

    with bench.session() as s:
        return s.query(Policy).filter_by(policy_no=policy_no).one().applicant_id_no


def test_a_rate_limit_gives_the_claims_back_and_backs_off(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-17", "2026-11-18"))
    bench.provider.errors = [None, PlacementError(PlacementProblem.RATE_LIMITED, "Twilio 20429", 20429)]
    dialer = bench.dialer()
    result = dialer.tick()
    assert (result.placed, result.released) == (1, 2)
    assert result.backoff_until == bench.clock.now() + timedelta(seconds=30)
    assert bench.task("P1").status is TaskStatus.QUEUED
    assert bench.task("P1").next_attempt_at is None  # still due: nothing lost
    assert dialer.tick().claimed == 0  # backing off
    bench.clock.advance(timedelta(seconds=30))
    assert dialer.tick().placed == 2
    assert bench.dialled() == bench.task_ids("P0", "P1", "P2")


def test_backoff_doubles_up_to_the_maximum(bench: Bench) -> None:
    bench.load(_rows("2026-11-16"))
    dialer = bench.dialer(backoff_seconds=100, max_backoff_seconds=250)
    waits = []
    for _ in range(3):
        bench.provider.errors = [PlacementError(PlacementProblem.TRANSIENT, "network: reset")]
        until = dialer.tick().backoff_until
        assert until is not None
        waits.append((until - bench.clock.now()).total_seconds())
        bench.clock.set(until)
    assert waits == [100, 200, 250]


def test_a_dead_dialers_claim_is_taken_over_after_the_lease(bench: Bench) -> None:
    bench.load(_rows("2026-11-16"))
    dead = bench.dialer("dead")
    with bench.sessions() as session, session.begin():
        assert len(dead._claim(session, bench.clock.now(), TickResult())) == 1  # claimed, then died
    assert bench.dialer("d2").tick().claimed == 0  # the lease still holds
    bench.clock.advance(timedelta(seconds=bench.settings.dialer.lease_seconds + 1))
    assert bench.dialer("d2").tick().placed == 1
    assert bench.dialled() == bench.task_ids("P0")


def test_a_dead_dialers_call_that_was_placed_is_adopted_not_dialled_again(bench: Bench) -> None:
    from storage.repositories import calls as call_repo

    bench.load(_rows("2026-11-16"))
    task_id = bench.task("P0").id
    with bench.sessions() as session, session.begin():
        bench.dialer("dead")._claim(session, bench.clock.now(), TickResult())
    bench.clock.advance(timedelta(seconds=2))
    with bench.sessions() as session, session.begin():  # Twilio's first callback registered the call
        call_repo.create(session, call_sid="CA-placed", task_id=task_id, policy_id=bench.task("P0").policy_id,
                         now=bench.clock.now())
    bench.clock.advance(timedelta(seconds=bench.settings.dialer.lease_seconds))
    result = bench.dialer("d2").tick()
    assert (result.adopted, result.placed) == (1, 0)
    assert bench.task("P0").status is TaskStatus.IN_PROGRESS


def test_a_call_whose_end_was_never_reported_is_retried(bench: Bench) -> None:
    bench.load(_rows("2026-11-16"))
    bench.dialer().tick()
    bench.clock.advance(timedelta(seconds=bench.settings.ivr.max_call_seconds) + timedelta(minutes=11))
    result = bench.dialer().tick()
    assert result.requeued == 1
    task = bench.task("P0")
    assert task.status is TaskStatus.QUEUED
    assert task.next_attempt_at is not None


def test_at_most_max_concurrent_calls(bench: Bench) -> None:
    bench.load(_rows(*["2026-11-16"] * 5))
    assert bench.dialer(max_concurrent_calls=3).tick().placed == 3
    assert bench.dialer(max_concurrent_calls=3).tick().placed == 0


class SlowQueue:
    """The account's slots are far ahead: each wait moves the business clock on by `step`."""

    def __init__(self, bench: Bench, step: timedelta) -> None:
        self.bench, self.step = bench, step

    def wait(self) -> float:
        self.bench.clock.advance(self.step)
        return self.step.total_seconds()


def test_a_claim_whose_lease_ran_low_waiting_for_a_slot_is_given_back_not_placed(bench: Bench) -> None:
    bench.load(_rows("2026-11-16", "2026-11-17", "2026-11-18"))
    dialer = bench.dialer()  # lease 300 s: a call must go with at least 30 s of it left
    dialer.pacer = SlowQueue(bench, timedelta(seconds=200))
    result = dialer.tick()
    assert (result.placed, result.released, result.waited_for_slot, result.slot_wait_s) == (1, 2, 2, 400.0)
    assert result.backoff_until is None  # nothing failed
    assert bench.dialled() == bench.task_ids("P0")
    assert [bench.task(p).status for p in ("P0", "P1", "P2")] == [TaskStatus.IN_PROGRESS, TaskStatus.QUEUED,
                                                                  TaskStatus.QUEUED]
    assert bench.task("P1").claimed_by is None


def test_claims_are_counted_against_the_cap_one_dialer_at_a_time(backend: str, bench: Bench) -> None:
    """Dialer b claims while a's claims are not committed yet: b waits for them (PostgreSQL advisory lock),
    then counts them, so the two together stay within max_concurrent_calls."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one dialer (its write lock serialises claims anyway)")
    bench.load(_rows(*["2026-11-16"] * 6))
    a, b = bench.dialer("a", max_concurrent_calls=3), bench.dialer("b", max_concurrent_calls=3)
    claimed_by_b: list[int] = []

    def claim_b() -> None:
        with bench.sessions() as session, session.begin():
            claimed_by_b.append(len(b._claim(session, bench.clock.now(), TickResult())))

    with bench.sessions() as session, session.begin():
        assert len(a._claim(session, bench.clock.now(), TickResult())) == 3  # not committed yet
        other = threading.Thread(target=claim_b)
        other.start()
        while other.is_alive() and not _waiting_for_a_lock(bench):
            pass  # until b is blocked (or, without the lock, done)
    other.join()
    assert claimed_by_b == [0]
    with bench.session() as s:
        assert s.scalar(select(func.count()).select_from(CallbackTask)
                        .where(CallbackTask.status == TaskStatus.DIALING)) == 3


def _waiting_for_a_lock(bench: Bench) -> bool:
    with bench.engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted")))


def test_every_call_keeps_the_number_it_dialled_after_a_phone_correction(bench: Bench) -> None:
    """Reproduced: the compliance record tied a call to the policy's current number, not the one dialled."""
    from sqlalchemy import select, update

    from storage.models import Policy
    from tasks.views import policy_view
    from tests.cases.test_front_doors import BOSS

    bench.load([policy_row(policy_no="N1", applicant_phone="13700000001")])
    assert bench.dialer().tick().placed == 1
    with bench.sessions() as s, s.begin():
        s.execute(update(Policy).values(applicant_phone="+8613912345678"))
    with bench.session() as s:
        call = s.scalars(select(Call)).one()
        assert (call.dialled_number, call.caller_id) == ("+8613700000001", "+861085550000")
        shown = policy_view(s, BOSS, "N1", bench.clock.now()).to_json()["calls"][0]
    assert (shown["dialled_number"], shown["caller_id"]) == ("+8613700000001", "+861085550000")
