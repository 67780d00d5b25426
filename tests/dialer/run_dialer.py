"""One dialer process for the multi-process tests:

    python -m tests.dialer.run_dialer URL NAME NOW [--latency-ms L] [--call-ms D] [--max-concurrent N]
                                      [--cps R] [--batch B] [--barrier] [--until-done]

Its provider plays Twilio's part from outside the dialer: each placement is written to `fake_placements`
(with the database's clock_timestamp() as `placed_at`, and the pacing slot the dialer waited for as
`slot_at`) and the call is registered as Twilio's first status
callback would register it, in one transaction of its own (so a dialer killed right after placing still
leaves the call on record, as Twilio would). With --call-ms the call ends D ms later: a `no-answer` status
callback through the real `calls.status.on_status`, committed together with `ended_at`.

Without --cps the dialer is unpaced; with it the dialer gets the pacer `huifang dialer` would build.
--barrier: say `ready` on stdout and wait for a line on stdin before the first tick (the test starts every
process at the same instant). --until-done: tick (every 10 ms, real time) until no task is due or being
dialled (nor on a call, with --call-ms), instead of draining once. --batch: dialer.batch_size (50).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text

from calls.context import CallContext
from calls.inputs import StatusReport
from calls.status import on_status
from dialer.loop import Dialer
from dialer.pacing import Pacer, SharedPacer
from dialer.telephony import CallRequest
from flows.engine import Turn
from flows.library import FlowLibrary, load_library
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import DialerSettings, Settings
from storage.db import make_engine, make_session_factory
from storage.models import CallbackTask
from storage.repositories import calls as call_repo

PENDING = ("SELECT count(*) FROM callback_tasks WHERE status = 'dialing' "
           "OR (status = 'queued' AND next_attempt_at IS NULL)")
LIVE = " OR status = 'in_progress'"  # calls that end (--call-ms) are waited for


class _NoTurns:
    """The calls this provider ends are never answered: no turn is rendered, no prompt prepared."""

    def turn(self, turn: Turn, language: str, seq: int, call: object = None) -> str:
        raise AssertionError("an unanswered call renders no turn")

    def hangup(self) -> str:
        raise AssertionError("an unanswered call renders no turn")

    def prepare(self, texts: Iterable[str], language: str) -> int:
        return 0


class RecordingProvider:
    def __init__(self, url: str, name: str, clock: FrozenClock, settings: Settings, latency_s: float,
                 call_s: float | None) -> None:
        self.sessions = make_session_factory(make_engine(url))
        self.name, self.clock, self.latency_s, self.call_s = name, clock, latency_s, call_s
        self.count = 0
        self.ctx = CallContext(settings=settings, clock=clock, calendar=BusinessCalendar(),
                               library=load_library() if call_s is not None else FlowLibrary(),
                               responder=_NoTurns(), prompts=_NoTurns())
        self.timers: list[threading.Timer] = []
        self.pacer: SharedPacer | None = None  # the dialer's, when paced: whose slot each placement waited for

    def place(self, request: CallRequest) -> str:
        time.sleep(self.latency_s)  # Twilio's REST round trip
        self.count += 1
        sid = f"CA{self.name}{self.count:020d}"
        with self.sessions() as session, session.begin():
            slot = self.pacer.last_slot if self.pacer is not None else None
            session.execute(text("INSERT INTO fake_placements (task_id, sid, dialer, placed_at, slot_at) "
                                 "VALUES (:t, :s, :d, clock_timestamp(), :slot)"),
                            {"t": request.task_id, "s": sid, "d": self.name, "slot": slot})
            task = session.get(CallbackTask, request.task_id)
            assert task is not None
            call_repo.create(session, call_sid=sid, task_id=task.id, policy_id=task.policy_id, now=self.clock.now())
        if self.call_s is not None:
            timer = threading.Timer(self.call_s, self.hang_up, args=(sid, request.task_id))
            timer.start()
            self.timers.append(timer)
        return sid

    def hang_up(self, sid: str, task_id: int) -> None:
        with self.sessions() as session, session.begin():
            on_status(session, self.ctx, StatusReport(call_sid=sid, status="no-answer", at=None, task_id=task_id))
            session.execute(text("UPDATE fake_placements SET ended_at = clock_timestamp() WHERE sid = :s"), {"s": sid})

    def join(self) -> None:
        for timer in self.timers:
            timer.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("now")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--call-ms", type=float, default=None)
    parser.add_argument("--max-concurrent", type=int, default=1_000_000)
    parser.add_argument("--cps", type=float, default=0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--barrier", action="store_true")
    parser.add_argument("--until-done", action="store_true")
    args = parser.parse_args()
    clock = FrozenClock(datetime.fromisoformat(args.now))
    settings = dataclasses.replace(Settings(), dialer=DialerSettings(
        batch_size=args.batch, max_concurrent_calls=args.max_concurrent, calls_per_second=args.cps))
    engine = make_engine(args.url)
    call_s = None if args.call_ms is None else args.call_ms / 1000
    provider = RecordingProvider(args.url, args.name, clock, settings, args.latency_ms / 1000, call_s)
    dialer = Dialer(settings=settings, clock=clock, calendar=BusinessCalendar(), sessions=make_session_factory(engine),
                    provider=provider, dialer_id=args.name, pacer=None if args.cps else Pacer(0))
    if isinstance(dialer.pacer, SharedPacer):
        provider.pacer = dialer.pacer
    if args.barrier:
        with engine.connect():  # connected before the start signal
            pass
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
    if args.until_done:
        pending = text(PENDING + (LIVE if call_s is not None else ""))
        result = dialer.tick()
        while True:
            with engine.connect() as conn:
                if not conn.execute(pending).scalar_one():
                    break
            time.sleep(0.01)  # the next tick (a real dialer ticks every dialer.tick_seconds)
            result.add(dialer.tick())
    else:
        result = dialer.drain()
    provider.join()
    summary = {"placed": result.placed, "claimed": result.claimed, "adopted": result.adopted}
    summary.update({k: v for k, v in dataclasses.asdict(result).items() if k.startswith("waited")})
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
