"""The account's limits hold across four real dialer processes on PostgreSQL: never more than
`max_concurrent_calls` calls live at once, never more than `calls_per_second` placements in a second.

Measured on the database's clock (clock_timestamp(), microseconds), the one clock every process shares: the
fake provider stamps each placement when Twilio would receive it, with the pacing slot the dialer reserved
for it, and each hang-up in the transaction that frees the call's place under the cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.dialer.processes import (
    drop_placements,
    finish,
    load_due,
    max_overlap,
    most_in_a_window,
    placement_times,
    placements,
    slots_and_placements,
    start_together,
)

DIALERS = 4
SEND_SLACK = 0.25  # s: how late after its slot a call may reach the provider on a loaded 2-core machine (sleep
# overshoot, CPU scheduling, the provider's own transaction; medians ~5 ms, up to ~70 ms measured): a late
# call followed by on-time ones puts cps calls into a little less than a second. The schedule itself (the
# slots) is checked exactly.


@pytest.fixture
def postgresql(backend: str, engine: Engine, db_url: str) -> Iterator[str]:
    if backend != "postgresql":
        pytest.skip("several dialer processes need PostgreSQL (SQLite runs one dialer)")
    yield db_url
    drop_placements(engine)


def test_four_dialers_never_have_more_than_max_concurrent_calls_live(postgresql: str, engine: Engine,
                                                                      tmp_path: Path) -> None:
    tasks, cap = 24, 3
    load_due(engine, tmp_path, tasks)
    processes = start_together(postgresql, DIALERS, "--max-concurrent", str(cap), "--call-ms", "80", "--batch", "2",
                                 "--until-done")
    results = [finish(p) for p in processes]
    assert sum(r["placed"] for r in results) == tasks
    assert sum(1 for r in results if r["placed"]) >= 2  # the work was shared
    assert set(placements(engine).values()) == {1}
    times = placement_times(engine)
    assert all(ended is not None for _, ended in times)
    assert max_overlap(times) == cap  # reached, never passed


def test_four_dialers_together_keep_to_the_accounts_calls_per_second(postgresql: str, engine: Engine,
                                                                      tmp_path: Path) -> None:
    tasks, cps = 50, 20
    load_due(engine, tmp_path, tasks)
    processes = start_together(postgresql, DIALERS, "--cps", str(cps), "--batch", "4", "--until-done")
    results = [finish(p) for p in processes]
    assert sum(r["placed"] for r in results) == tasks
    assert all(r["placed"] for r in results)  # every dialer placed calls
    placed = [at for at, _ in placement_times(engine)]
    assert most_in_a_window(placed, 1.0 - SEND_SLACK) <= cps  # as the provider saw them
    assert sum(r["waited_for_slot"] for r in results) > tasks / 2  # the dialers were faster than the account
    timed = slots_and_placements(engine)
    assert most_in_a_window([slot for slot, _ in timed], 1.0) == cps  # the account's schedule: reached, never passed
    assert all(at >= slot for slot, at in timed)  # no call went before its slot
