"""Fault: a gunicorn worker of `huifang serve` killed with SIGKILL while it answers a turn of a call in progress.
Nothing lost, nothing doubled.

The production server (gunicorn, two gthread workers, preloaded app) in a process of its own on the test
database; the harness plays Twilio over real HTTP (every request signed for the public URL) and the dialer's
placement. The test holds what turn 3 needs (the call's row on PostgreSQL, the database's write lock on
SQLite), so the worker that took the request waits inside it; once it is seen waiting (pg_stat_activity, or the
in-flight gauge on /metrics), the worker holding the request's connection (found through /proc) is killed and
the lock let go. Twilio sees the connection drop (11205) and requests the call's FallbackUrl
(`ivr.fallback_base_url`, served by the same gunicorn): the other worker, or the one the master starts in the
killed one's place, takes turn 3 (the killed worker's transaction never committed) and the call goes on to its
end. It ends as the same persona's call without the fault for another policy of the same product.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select, text

from calls.service import prepare
from ivr.harness.local import HttpTransport
from ivr.harness.simulator import CallLog
from kit.vocab import TaskStatus
from speech.cache import PromptCache
from storage.models import Call, CallEvent, Recording
from tests.huifang.serving.helpers import METRICS_TOKEN, ServeProcess, hold_the_call, release
from tests.ivr.conftest import BASE, TOKEN
from tests.ivr.harness.hosts import (
    LoopbackMedia,
    alive,
    children,
    recordings_settled,
    serve,
    wait_until,
    workers_holding_our_connections,
)
from tests.ivr.harness.test_fallback import YES, Bench, shape, two_policies

pytestmark = pytest.mark.slow

FALLBACK_HOST = "https://fallback.example.com"
WORKERS = 2
DOOMED_TURN = f"{BASE}/twilio/voice/turn?seq=3"


class KillMidTurn:
    """Twilio's HTTP client (HttpTransport), and the fault on the doomed call's turn 3: the lock taken, the
    request sent, the worker waiting in it killed, the lock let go; Twilio meets the dropped connection."""

    def __init__(self, http: HttpTransport, server: ServeProcess, call_sid: str,
                 hold: Callable[[], tuple[object, object]], let_go: Callable[[tuple[object, object]], None],
                 waiting: Callable[[], bool]) -> None:
        self.http, self.server, self.call_sid = http, server, call_sid
        self.hold, self.let_go, self.waiting = hold, let_go, waiting
        self.killed: list[int] = []
        self.failure: BaseException | None = None

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        if url != DOOMED_TURN or form.get("CallSid") != self.call_sid or self.killed:
            return self.http.post(url, form)
        self.http.http.close()  # a connection of its own: the worker holding it is the one answering the turn
        held = threading.Event()
        killer = threading.Thread(target=self._kill_the_worker, args=(held,))  # the lock is its thread's (SQLite)
        killer.start()
        try:
            held.wait(timeout=60)
            return self.http.post(url, form)
        finally:
            killer.join(timeout=60)
            if self.failure is not None:
                raise AssertionError("the fault was not made") from self.failure

    def get(self, url: str) -> tuple[int, bytes]:
        return self.http.get(url)

    def _kill_the_worker(self, held: threading.Event) -> None:
        try:
            lock = self.hold()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            self.failure = exc
            held.set()
            return
        held.set()
        try:
            wait_until(self.waiting, "the turn waiting on the lock in a worker")
            master = self.server.process.pid
            holding = workers_holding_our_connections(master, self.server.port)
            assert len(holding) == 1, f"workers holding the turn's connection: {holding} of {children(master)}"
            [worker] = holding
            os.kill(worker, signal.SIGKILL)
            self.killed.append(worker)
            wait_until(lambda: not alive(worker), f"worker {worker} gone")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            self.failure = exc
        finally:
            self.let_go(lock)


def _pg_lock_wait(engine: Engine) -> Callable[[], bool]:
    def waiting() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one())
    return waiting


def _turn_in_flight(server: ServeProcess) -> Callable[[], bool]:
    gauge = 'huifang_http_requests_in_flight{route="/twilio/voice/turn"} 1.0'

    def waiting() -> bool:  # a connection of its own, closed before the workers' connections are read
        reply = requests.get(server.url + "/metrics", timeout=10,
                             headers={"Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"})
        return gauge in reply.text
    return waiting


@pytest.fixture
def media() -> Iterator[LoopbackMedia]:
    host = LoopbackMedia()
    yield host
    host.stop()


def test_a_gunicorn_worker_killed_while_it_answers_a_turn(
        backend: str, engine: Engine, db_url: str, tmp_path: Path, prompt_cache: PromptCache,
        media: LoopbackMedia) -> None:
    bench = two_policies(engine, tmp_path, prompt_cache, keypad=True, fallback_base_url=FALLBACK_HOST)
    server = serve(db_url, tmp_path, prompt_cache, media, FALLBACK_HOST, workers=WORKERS)
    try:
        server.wait_ready()
        master = server.process.pid
        wait_until(lambda: len(children(master)) == WORKERS, "gunicorn's workers booted")
        first_workers = children(master)
        http = HttpTransport(server.url, TOKEN, BASE, fallback_base_url=FALLBACK_HOST)
        doomed = f"CA{'f' * 30}02"  # the second call bench.play makes
        fault = KillMidTurn(http, server, doomed, lambda: hold_the_call(backend, engine, db_url, doomed),
                            lambda held: release(backend, held),
                            _pg_lock_wait(engine) if backend == "postgresql" else _turn_in_flight(server))
        simulator = bench.harness.simulator
        simulator.transport, simulator.media = fault, media
        _, clean = _play(bench, bench.clean)
        log, result = _play(bench, bench.faulty)

        assert result["call_sid"] == doomed
        [killed] = fault.killed
        assert killed in first_workers
        wait_until(lambda: killed not in children(master) and len(children(master)) == WORKERS,
                   "gunicorn's master replacing the killed worker")
        assert server.process.poll() is None  # the master lives on
        assert f"Worker (pid:{killed}) was sent SIGKILL!" in server.output()
        recordings_settled(engine)
    finally:
        server.kill()

    assert [(e.code, e.url) for e in log.errors] == [("11205", DOOMED_TURN)]
    fallbacks = [(url, status) for url, status in log.requests if "/voice/fallback" in url]
    assert fallbacks == [(f"{FALLBACK_HOST}/twilio/voice/fallback", 200)]
    assert shape(result) == shape(clean)  # nothing lost, nothing doubled
    assert [(e.text, e.detail["ErrorCode"], e.detail["ErrorUrl"]) for e in bench.events(doomed, "fallback")] == [
        ("answered", "11205", DOOMED_TURN)]
    assert _kinds(bench, doomed) - Counter({"fallback": 1}) == _kinds(bench, clean["call_sid"])
    with bench.harness.services.sessions() as session:
        for sid in (doomed, clean["call_sid"]):  # the turns taken once each: the same turn number at the end
            assert session.scalars(select(Call.turn_seq).where(Call.call_sid == sid)).one() == \
                session.scalars(select(Call.turn_seq).where(Call.call_sid == clean["call_sid"])).one()
        stored = session.execute(select(Call.call_sid, Recording.status).join(Call)).all()
        assert sorted((sid, status.value) for sid, status in stored) == sorted(
            [(clean["call_sid"], "stored"), (doomed, "stored")])
    for policy_no in (bench.clean, bench.faulty):
        task = bench.task(policy_no)
        assert (task.status, task.attempts) == (TaskStatus.COMPLETED, 1)
        assert task.result_class is not None
        assert task.result_class.value == clean["result_class"] == "standard"
        with bench.harness.services.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Call).where(Call.task_id == task.id)) == 1


def _play(bench: Bench, policy_no: str) -> tuple[CallLog, dict[str, Any]]:
    task = bench.task(policy_no)
    services = bench.harness.services
    prepare(services.sessions, services.calls, task.id)  # as the dialer does before it places the call
    return bench.play(policy_no, YES)


def _kinds(bench: Bench, call_sid: str) -> Counter[str]:
    with bench.harness.services.sessions() as session:
        return Counter(session.scalars(select(CallEvent.kind).join(Call).where(Call.call_sid == call_sid)))
