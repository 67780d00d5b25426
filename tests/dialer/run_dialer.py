"""One dialer process for the multi-process tests: `python -m tests.dialer.run_dialer URL NAME NOW LATENCY_MS`.

Its provider plays Twilio's part from outside the dialer: each placement is written to `fake_placements`
and the call is registered as Twilio's first status callback would register it, in one transaction of its
own (so a dialer killed right after placing still leaves the call on record, as Twilio would).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from datetime import datetime

from sqlalchemy import text

from dialer.loop import Dialer, Pacer
from dialer.telephony import CallRequest
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import DialerSettings, Settings
from storage.db import make_engine, make_session_factory
from storage.models import CallbackTask
from storage.repositories import calls as call_repo


class RecordingProvider:
    def __init__(self, url: str, name: str, clock: FrozenClock, latency_s: float) -> None:
        self.sessions = make_session_factory(make_engine(url))
        self.name, self.clock, self.latency_s = name, clock, latency_s
        self.count = 0

    def place(self, request: CallRequest) -> str:
        time.sleep(self.latency_s)  # Twilio's REST round trip
        self.count += 1
        sid = f"CA{self.name}{self.count:020d}"
        with self.sessions() as session, session.begin():
            session.execute(text("INSERT INTO fake_placements (task_id, sid, dialer) VALUES (:t, :s, :d)"),
                            {"t": request.task_id, "s": sid, "d": self.name})
            task = session.get(CallbackTask, request.task_id)
            assert task is not None
            call_repo.create(session, call_sid=sid, task_id=task.id, policy_id=task.policy_id, now=self.clock.now())
        return sid


def main() -> None:
    url, name, now, latency_ms = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    clock = FrozenClock(datetime.fromisoformat(now))
    settings = dataclasses.replace(Settings(), dialer=DialerSettings(batch_size=50, max_concurrent_calls=1_000_000,
                                                                     calls_per_second=0))
    engine = make_engine(url)
    dialer = Dialer(settings=settings, clock=clock, calendar=BusinessCalendar(), sessions=make_session_factory(engine),
                    provider=RecordingProvider(url, name, clock, latency_ms / 1000), dialer_id=name, pacer=Pacer(0))
    result = dialer.drain()
    sys.stdout.write(json.dumps({"placed": result.placed, "claimed": result.claimed, "adopted": result.adopted}) + "\n")


if __name__ == "__main__":
    main()
