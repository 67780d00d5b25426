"""The outbox survives a sender killed mid-batch: a new sender delivers every event; the one whose POST was under
way when the sender died comes twice with the same event id (at least once), every other exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from flows.vocab import ResultClass
from kit.clock import FrozenClock
from kit.settings import NotificationSettings, Settings
from tasks.lifecycle import TaskEvent, apply
from tests.integration.world import events, import_policies, task_of
from tests.notifications.receiver import SECRET, Receiver, running

ROOT = Path(__file__).resolve().parents[2]


def _sender(db_url: str, endpoint: str, now: str) -> subprocess.Popen[str]:
    """`huifang notifications send` in a process of its own, its clock frozen at `now`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUIFANG_DATABASE_URL": db_url, "HUIFANG_NOW": now,
           "HUIFANG__NOTIFICATIONS__ENDPOINT": f'"{endpoint}"', "HUIFANG_NOTIFICATIONS_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-c", "from huifang.cli import main; main()", "notifications", "send",
                             "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_sender_loses_nothing(db_url: str, session: Session, tmp_path: Path, settings: Settings,
                                       clock: FrozenClock) -> None:
    numbers = [f"K{i}" for i in range(5)]
    import_policies(session, tmp_path, settings, clock, numbers)
    for no in numbers:  # the changes, committed: the outbox now holds their events
        apply(task_of(session, no), TaskEvent.COMPLETE, clock.now(), result_class=ResultClass.STANDARD)
    session.commit()
    all_ids = {e.event_id for e in events(session)}
    session.commit()
    lease = timedelta(seconds=NotificationSettings().claim_seconds)
    with running(Receiver(hold_first=True)) as receiver:
        first = _sender(db_url, receiver.url, clock.now().isoformat())
        try:
            assert receiver.arrived.wait(60), first.communicate(timeout=5)
        finally:
            first.kill()  # killed while its first POST waits for an answer: the whole batch claimed, none finished
            first.wait(30)
        receiver.release.set()
        assert sum(receiver.counts.values()) == 1

        early = _sender(db_url, receiver.url, (clock.now() + lease / 2).isoformat())  # the dead sender's lease holds
        out, err = early.communicate(timeout=60)
        assert early.returncode == 0, err
        assert '"claimed": 0' in out

        later = _sender(db_url, receiver.url, (clock.now() + lease + timedelta(seconds=1)).isoformat())
        out, err = later.communicate(timeout=60)
        assert later.returncode == 0, err
        assert '"delivered": 5' in out
    assert set(receiver.counts) == all_ids  # every event delivered
    assert receiver.bad_signatures == []
    assert sorted(receiver.counts.values()) == [1, 1, 1, 1, 2]  # the interrupted one again, same event id
    session.expire_all()
    assert all(e.delivered_at is not None and e.claimed_by is None for e in events(session))
