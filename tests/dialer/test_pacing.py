"""The account's pacing shared by every dialer (dialer.pacing.SharedPacer), on SQLite and PostgreSQL.

No test sleeps: the pacers are handed a sleep that only records, so each reservation's wait is the distance
from the database's clock to its slot (slots 1/cps apart, whichever dialer takes them)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from dialer.pacing import Pacer, SharedPacer
from storage.db import make_session_factory
from storage.models import DialerPacing

SLACK = 0.2  # s: the real time the reservations themselves take on a busy machine


def _pacers(engine: Engine, cps: float, count: int, account: str = "AC1") -> tuple[list[SharedPacer], list[float]]:
    slept: list[float] = []
    sessions = make_session_factory(engine)
    return [SharedPacer(sessions, cps, account, sleep=slept.append) for _ in range(count)], slept


def test_two_dialers_take_slots_one_interval_apart_from_one_row(engine: Engine) -> None:
    (a, b), slept = _pacers(engine, 4.0, 2)
    waits = [pacer.wait() for pacer in (a, b, a, b, a)]
    assert waits[0] == 0  # the account was idle
    assert slept == [w for w in waits if w]  # every wait was slept, outside the reservation's transaction
    for index, wait in enumerate(waits[1:], start=1):  # the k-th slot is k × 0.25 s after the first
        assert index * 0.25 - SLACK <= wait <= index * 0.25
    with engine.connect() as conn:
        assert conn.execute(select(DialerPacing.account)).scalars().all() == ["AC1"]


def test_accounts_are_paced_apart_and_zero_is_unpaced(engine: Engine) -> None:
    (first,), _ = _pacers(engine, 1.0, 1, "AC1")
    (other,), _ = _pacers(engine, 1.0, 1, "AC2")
    (unpaced,), _ = _pacers(engine, 0, 1, "AC1")
    assert first.wait() == 0
    assert other.wait() == 0  # another account's CPS is its own
    assert unpaced.wait() == 0
    assert first.wait() > 1.0 - SLACK


def test_the_local_pacer_spaces_placements_by_the_cps() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, monotonic=lambda: now[0], sleep=sleep)
    waits = [pacer.wait() for _ in range(5)]
    assert sleeps == [0.25, 0.25, 0.25, 0.25]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert now[0] == 1.0
