"""Retention of the outbox: which events go (old AND delivered, or old and not a dead letter with notifications
off), in bounded batches, and what the results feed does for a cursor that points before deleted results."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.events import record
from integration.feed import CursorExpired, encode_cursor, results
from integration.retention import counts, prune_batch, pruned_to
from kit.actor import SYSTEM
from kit.clock import FrozenClock
from storage.models import IntegrationEvent, IntegrationPruned
from tests.conftest import NOW

KEEP_DAYS = 90
OLD = NOW - timedelta(days=KEEP_DAYS, hours=1)  # just past the window
NEW = NOW - timedelta(days=KEEP_DAYS - 1)  # inside it
RESULT = {"task_status": "completed", "result_class": "standard", "reason_codes": []}


def _event(session: Session, policy_no: str, *, at: datetime, state: str = "delivered",
           type: str = "task.result") -> str:
    """One event created `at`, then delivered, dead (the sender gave up), pending, or pending under a live claim;
    committed on its own (its own transaction id on PostgreSQL)."""
    event = record(session, type, policy_no, RESULT if type == "task.result" else {"case_id": 1}, now=at)
    if state == "delivered":
        event.delivered_at, event.attempts = at + timedelta(minutes=1), 1
    elif state == "dead":
        event.dead_at, event.attempts, event.last_error = at + timedelta(hours=24), 17, "HTTP 503"
    elif state == "claimed":
        event.claimed_by, event.claim_expires_at = "host:1/abc", NOW + timedelta(minutes=5)
    else:
        assert state == "pending"
    session.commit()
    return event.event_id


def _prune(session: Session, *, on: bool = True, limit: int = 100) -> list[int]:
    """Batches as `huifang notifications prune` runs them (each committed) until one comes back short."""
    done: list[int] = []
    while True:
        done.append(prune_batch(session, now=NOW, keep_days=KEEP_DAYS, notifications_on=on, limit=limit))
        session.commit()
        if done[-1] < limit:
            return done


def _left(session: Session) -> list[str]:
    return list(session.scalars(select(IntegrationEvent.policy_no).order_by(IntegrationEvent.id)))


def test_only_old_delivered_events_go_dead_undelivered_and_new_ones_stay(session: Session) -> None:
    _event(session, "GONE1", at=OLD)
    _event(session, "DEAD", at=OLD - timedelta(days=300), state="dead")
    _event(session, "PENDING", at=OLD, state="pending")  # a sender still trying (e.g. one that was down)
    _event(session, "GONE2", at=OLD - timedelta(days=1), type="case.opened")
    _event(session, "EDGE", at=NOW - timedelta(days=KEEP_DAYS))  # exactly keep_days old: not older
    _event(session, "GONE3", at=OLD - timedelta(days=30))
    _event(session, "NEW", at=NEW)
    before = counts(session, now=NOW, keep_days=KEEP_DAYS, notifications_on=True)
    assert before == {"deletable": 3, "kept_dead": 1, "kept_undelivered": 1}
    assert _prune(session, limit=2) == [2, 1]  # bounded batches, each its own transaction
    assert _left(session) == ["DEAD", "PENDING", "EDGE", "NEW"]
    assert counts(session, now=NOW, keep_days=KEEP_DAYS, notifications_on=True) == {
        "deletable": 0, "kept_dead": 1, "kept_undelivered": 1}
    assert _prune(session) == [0]


def test_with_notifications_off_old_undelivered_events_go_but_dead_letters_and_live_claims_stay(
        session: Session) -> None:
    _event(session, "NEVER_SENT", at=OLD, state="pending")
    _event(session, "DELIVERED", at=OLD)
    _event(session, "DEAD", at=OLD, state="dead")  # from when an endpoint was set: someone may still resend it
    _event(session, "CLAIMED", at=OLD, state="claimed")  # a sender still configured elsewhere holds it
    _event(session, "NEW", at=NEW, state="pending")
    assert counts(session, now=NOW, keep_days=KEEP_DAYS, notifications_on=False) == {
        "deletable": 2, "kept_dead": 1, "kept_undelivered": 1}
    assert _prune(session, on=False) == [2]
    assert _left(session) == ["DEAD", "CLAIMED", "NEW"]


def test_each_types_mark_is_the_last_event_deleted_and_never_goes_down(session: Session) -> None:
    _event(session, "R1", at=OLD)
    _event(session, "C1", at=OLD, type="case.closed")
    _event(session, "R2", at=OLD)
    _event(session, "R3", at=OLD, state="dead")
    r2 = session.scalars(select(IntegrationEvent).where(IntegrationEvent.policy_no == "R2")).one()
    c1 = session.scalars(select(IntegrationEvent).where(IntegrationEvent.policy_no == "C1")).one()
    r2_key, c1_key = (r2.txid, r2.id), (c1.txid, c1.id)
    assert pruned_to(session, "task.result") == (0, 0)
    _prune(session)
    assert pruned_to(session, "task.result") == r2_key  # R3 is kept: the mark is the last one deleted
    assert pruned_to(session, "case.closed") == c1_key
    marks = {m.type: (m.deleted, m.pruned_at) for m in session.scalars(select(IntegrationPruned))}
    assert marks == {"task.result": (2, NOW), "case.closed": (1, NOW)}
    row = session.get(IntegrationPruned, "task.result")
    assert row is not None
    row.txid, row.event_pk = 10**12, 1  # as if a concurrent prune had gone further and committed first
    session.commit()
    _event(session, "R4", at=OLD - timedelta(days=1))
    _event(session, "R5", at=NEW)
    _prune(session)
    assert pruned_to(session, "task.result") == (10**12, 1)
    assert session.scalars(select(IntegrationPruned.deleted).where(IntegrationPruned.type == "task.result")).one() == 3


def test_a_cursor_before_deleted_results_is_refused_and_one_after_them_reads_on(session: Session) -> None:
    for no in ("R1", "R2"):
        _event(session, no, at=OLD)
    _event(session, "R3", at=OLD, state="dead")
    _event(session, "R4", at=NEW)
    first = results(session, SYSTEM, None, 1)
    assert [i.policy_no for i in first.items] == ["R1"]
    two = results(session, SYSTEM, None, 2)
    assert _prune(session) == [2]  # R1 and R2 go; R3 (dead) and R4 (new) stay

    with pytest.raises(CursorExpired, match="since: .* before results deleted by retention"):
        results(session, SYSTEM, first.next_cursor, 10)  # R2 was never read: it would be skipped
    with pytest.raises(CursorExpired):
        results(session, SYSTEM, encode_cursor(0, 0), 10)  # the cursor of an empty feed, long ago
    after = results(session, SYSTEM, two.next_cursor, 10)  # the poller had read R2, the last one deleted
    assert [i.policy_no for i in after.items] == ["R3", "R4"]
    fresh = results(session, SYSTEM, None, 10)  # no cursor: from the first result kept after the mark
    assert [i.policy_no for i in fresh.items] == ["R3", "R4"]
    assert results(session, SYSTEM, fresh.next_cursor, 10).items == []


def test_the_newest_event_is_never_deleted_so_no_id_is_handed_out_twice(session: Session,
                                                                        clock: FrozenClock) -> None:
    for no in ("R1", "R2", "R3"):
        _event(session, no, at=OLD)
    seen = results(session, SYSTEM, None, 10)
    assert [i.policy_no for i in seen.items] == ["R1", "R2", "R3"]
    assert _prune(session) == [2]  # R3, the newest, stays: SQLite would give its id to the next event
    assert _left(session) == ["R3"]
    _event(session, "R4", at=clock.now())
    assert [i.policy_no for i in results(session, SYSTEM, seen.next_cursor, 10).items] == ["R4"]
    assert _prune(session) == [1]  # R3 is no longer the newest
    fresh = results(session, SYSTEM, None, 10)
    assert [i.policy_no for i in fresh.items] == ["R4"]
    assert results(session, SYSTEM, fresh.next_cursor, 10).items == []


def test_deleted_case_events_do_not_expire_a_results_cursor(session: Session) -> None:
    _event(session, "R1", at=NEW)
    cursor = results(session, SYSTEM, None, 10).next_cursor
    _event(session, "C1", at=OLD, type="case.opened")  # older by the clock, later in the table
    _event(session, "R2", at=NEW)
    assert _prune(session) == [1]
    assert [i.policy_no for i in results(session, SYSTEM, cursor, 10).items] == ["R2"]
