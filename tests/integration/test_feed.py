"""The results feed: order, paging, scope, bad cursors, and no event skipped when a transaction commits late."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from integration.events import record
from integration.feed import BadCursor, FeedPage, decode_cursor, encode_cursor, results
from kit.actor import SYSTEM, Actor
from kit.clock import FrozenClock
from kit.settings import Settings
from storage.db import make_session_factory
from tasks.lifecycle import TaskEvent, apply
from tests.conftest import PG_ADMIN_URL
from tests.integration.world import events, import_policies, task_of


def _complete(session: Session, policy_no: str, clock: FrozenClock) -> None:
    apply(task_of(session, policy_no), TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.STANDARD)
    session.flush()


def _read_all(session: Session, since: str | None = None, limit: int = 2) -> tuple[list[str], str | None]:
    seen: list[str] = []
    while True:
        page = results(session, SYSTEM, since, limit)
        seen += [i.policy_no for i in page.items]
        since = page.next_cursor
        if not page.has_more:
            return seen, since


def test_pages_follow_the_cursor_in_order(session: Session, tmp_path: Path, settings: Settings,
                                          clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["F1", "F2", "F3", "F4", "F5"])
    for no in ("F3", "F1", "F5", "F2", "F4"):
        _complete(session, no, clock)
        session.commit()  # one transaction each: the order they were decided in
    first = results(session, SYSTEM, None, 2)
    assert [i.policy_no for i in first.items] == ["F3", "F1"]
    assert first.has_more
    item = first.items[0].as_json()
    assert set(item) == {"event_id", "type", "occurred_at", "policy_no", "data"}
    assert item["type"] == "task.result"
    assert item["data"]["result_class"] == "standard"
    assert item["occurred_at"] == "2026-11-25T10:00:00+08:00"
    rest, cursor = _read_all(session, first.next_cursor)
    assert rest == ["F5", "F2", "F4"]
    empty = results(session, SYSTEM, cursor, 10)  # nothing new: the same cursor comes back
    assert (empty.items, empty.next_cursor, empty.has_more) == ([], cursor, False)
    apply(task_of(session, "F3"), TaskEvent.REOPEN, clock.now())
    session.commit()
    assert [i.data["result_class"] for i in results(session, SYSTEM, cursor, 10).items] == [None]


def test_only_task_results_and_only_the_actors_branches(session: Session, tmp_path: Path, settings: Settings,
                                                         clock: FrozenClock) -> None:
    import_policies(session, tmp_path, settings, clock, ["B1"])
    (tmp_path / "other").mkdir()
    import_policies(session, tmp_path / "other", settings, clock, ["B2"], branch_code="320100")
    _complete(session, "B1", clock)
    record(session, "case.opened", "B1", {"case_id": 1}, now=clock.now())  # not a result: not in the feed
    _complete(session, "B2", clock)
    session.commit()
    assert _read_all(session)[0] == ["B1", "B2"]
    branch = Actor.of("u", ["branch"], ["320100"])
    assert [i.policy_no for i in results(session, branch, None, 10).items] == ["B2"]
    assert results(session, Actor.of("v", ["branch"], ["999999"]), None, 10).items == []


@pytest.mark.parametrize("cursor", ["", "%%%", "bm90LWEtY3Vyc29y", encode_cursor(1, 2) + "x"])
def test_a_cursor_not_given_out_is_refused(session: Session, cursor: str) -> None:
    with pytest.raises(BadCursor, match="since:"):
        results(session, SYSTEM, cursor or "-", 10)


def test_cursor_round_trip_and_limits(session: Session) -> None:
    assert decode_cursor(encode_cursor(2**40, 7)) == (2**40, 7)
    for limit in (0, 1001):
        with pytest.raises(ValueError, match="limit"):
            results(session, SYSTEM, None, limit)


def test_a_late_commit_is_never_skipped(engine: Engine, backend: str, session: Session, tmp_path: Path,
                                        settings: Settings, clock: FrozenClock) -> None:
    """Two writers on PostgreSQL: the first takes the lower id and commits last. A feed ordered by id alone would
    have read the second's higher id and resumed after it, never showing the first one's event."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: ids come in commit order")
    import_policies(session, tmp_path, settings, clock, ["L1", "L2", "L3"])
    sessions = make_session_factory(engine)
    early, late, reader = sessions(), sessions(), sessions()
    try:
        _complete(late, "L1", clock)  # inserted first: the lower id, still uncommitted
        _complete(early, "L2", clock)
        early.commit()  # the higher id commits first
        page = results(reader, SYSTEM, None, 10)
        reader.commit()
        assert page.items == []  # L2 waits behind the transaction still open, rather than overtaking it
        late.commit()
        _complete(early, "L3", clock)
        early.commit()
        seen, _ = _read_all(reader, page.next_cursor)
        assert seen == ["L1", "L2", "L3"]
        ids = {e.policy_no: e.id for e in events(reader)}
        assert ids["L1"] < ids["L2"]  # the case a feed by id alone gets wrong
    finally:
        for s in (early, late, reader):
            s.close()


def test_an_open_reader_never_sees_an_event_twice_or_misses_one(engine: Engine, backend: str, session: Session,
                                                                 tmp_path: Path, settings: Settings,
                                                                 clock: FrozenClock) -> None:
    """Writers interleaved every way three can be (begin, write, commit in turn), the feed read between every
    step: each event is read exactly once, whatever the order of the commits."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    numbers = [f"I{i}" for i in range(9)]
    import_policies(session, tmp_path, settings, clock, numbers)
    sessions = make_session_factory(engine)
    # each script: writer index per step; a writer's first step writes, its second commits
    scripts = [(0, 1, 2, 2, 1, 0), (0, 1, 1, 2, 0, 2), (2, 1, 0, 0, 2, 1)]
    pending = iter(numbers)
    cursor: str | None = None
    read: list[str] = []
    for script in scripts:
        writers = [sessions() for _ in range(3)]
        started = [False] * 3
        for w in script:
            if not started[w]:
                _complete(writers[w], next(pending), clock)
                started[w] = True
            else:
                writers[w].commit()
            with sessions() as reader:
                page: FeedPage = results(reader, SYSTEM, cursor, 100)
                read += [i.policy_no for i in page.items]
                cursor = page.next_cursor
        for writer in writers:
            writer.close()
    assert sorted(read) == numbers
    assert len(read) == len(set(read))


def test_a_transaction_in_another_database_does_not_hold_the_feed_back(
        session: Session, backend: str, tmp_path: Path, settings: Settings, clock: FrozenClock) -> None:
    """The snapshot's horizon is the cluster's: a long transaction of another database (another application on
    the same server) would stall the feed until it ends; it is left out."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's transaction ids")
    import_policies(session, tmp_path, settings, clock, ["O1"])
    other = create_engine(PG_ADMIN_URL)  # the server's maintenance database, not the test's
    try:
        with other.connect() as elsewhere:
            elsewhere.execute(text("SELECT pg_current_xact_id()"))  # an open transaction holding an older id
            _complete(session, "O1", clock)
            session.commit()
            assert [i.policy_no for i in results(session, SYSTEM, None, 10).items] == ["O1"]
            elsewhere.rollback()
    finally:
        other.dispose()
