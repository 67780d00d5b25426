"""Fault: one of two web hosts behind the load balancer stopped mid-campaign. Nothing lost, nothing doubled.

Two `huifang serve` hosts (gunicorn) on the same database, behind one public base URL: the harness's transport
plays nginx in front of them (round-robin per request, the signature for the public URL Twilio requested, a
refused connection taken to the next host: `proxy_next_upstream error`). The real dialer (in the test's process,
on the virtual clock) runs the campaign of tests/ivr/harness/test_campaign.py (every outcome: results, retries,
an unreachable applicant, an invalid number, a wrong identity) twice over the same two hosts: first without a
fault, then for six more policies with the same personas, one host stopped halfway through that campaign's
webhooks, in the middle of a call — crashed (SIGKILL to the master and its workers) or stopped (SIGTERM). The
simulation is strict: Twilio meets no failed webhook at all. Every task of the second campaign ends as its twin
of the first: the same status, result, reasons, attempts, calls, cases and stored recordings.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.campaign import Cast, run_campaign
from ivr.harness.local import LocalHarness
from ivr.harness.media import InjectedRecognizer
from speech.cache import PromptCache
from storage.db import units_of_work
from storage.models import Call, CallbackTask, Case, Policy, Recording
from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv
from tests.huifang.serving.helpers import ServeProcess
from tests.ivr.conftest import BASE, TOKEN, build_ivr
from tests.ivr.harness.hosts import (
    LoopbackMedia,
    RoundRobin,
    alive,
    children,
    recordings_settled,
    serve,
    wait_until,
)
from tests.ivr.harness.test_campaign import CAST

pytestmark = pytest.mark.slow

START = local("2026-11-25T09:00:00")
TWINS = {f"C{i}": f"D{i}" for i in range(6)}  # the first campaign's policies, the second's with the same persona
CAST_TWICE = Cast(CAST.personas, {**CAST.assign, **{TWINS[k]: v for k, v in CAST.assign.items() if k in TWINS}})


def crash(server: ServeProcess) -> None:
    """The host dies at once: its master and every worker SIGKILLed; nothing more is answered there."""
    master = server.process.pid
    workers = children(master)
    for pid in (master, *workers):
        os.kill(pid, signal.SIGKILL)
    assert server.process.wait(timeout=60) == -signal.SIGKILL
    wait_until(lambda: not any(alive(pid) for pid in workers), "the crashed host's workers gone")


def stop(server: ServeProcess) -> None:
    """The host is stopped (SIGTERM, as systemd stops it): gunicorn closes its socket and exits."""
    assert server.terminate() == 0


STOPS = {"crashed": crash, "stopped": stop}


@pytest.fixture
def media() -> Iterator[LoopbackMedia]:
    host = LoopbackMedia()
    yield host
    host.stop()


@pytest.fixture
def hosts(db_url: str, tmp_path: Path, prompt_cache: PromptCache, media: LoopbackMedia) -> Iterator[list[ServeProcess]]:
    started = [serve(db_url, tmp_path, prompt_cache, media, "") for _ in range(2)]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.kill()


def _import(harness: LocalHarness, tmp_path: Path, policy_nos: list[str]) -> None:
    svc = harness.services
    path = write_csv(tmp_path / f"{policy_nos[0]}.csv", [policy_row(policy_no=no) for no in policy_nos])
    PolicyIntake(units_of_work(svc.sessions), settings=svc.settings, calendar=svc.calendar, clock=svc.clock).run(
        open_table(path))


def _outcomes(harness: LocalHarness, policy_nos: list[str]) -> dict[str, dict[str, Any]]:
    """Each policy's task as the campaign left it, with its calls, cases and stored recordings."""
    out: dict[str, dict[str, Any]] = {}
    with harness.services.sessions() as session:
        for no in policy_nos:
            task = session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == no)).one()
            calls = list(session.scalars(select(Call).where(Call.task_id == task.id).order_by(Call.id)))
            cases = session.scalars(select(Case.type).where(Case.task_id == task.id).order_by(Case.id)).all()
            stored = session.scalars(select(Recording.status).join(Call).where(Call.task_id == task.id)).all()
            out[no] = {
                "status": task.status.value, "result_class": task.result_class and task.result_class.value,
                "reason_codes": list(task.reason_codes or []), "attempts": task.attempts,
                "calls": [(c.outcome.value, c.result_class and c.result_class.value, c.turn_seq) for c in calls],
                "distinct_sids": len({c.call_sid for c in calls}),
                "cases": [c.value for c in cases], "recordings": sorted(s.value for s in stored),
            }
    return out


@pytest.mark.parametrize("how", STOPS)
def test_a_web_host_stopped_mid_campaign_behind_the_load_balancer(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache, media: LoopbackMedia,
        hosts: list[ServeProcess], how: str) -> None:
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True, row=policy_row(policy_no="C0"))
    harness = LocalHarness.build(ivr.svc, ivr.app, InjectedRecognizer())
    _import(harness, tmp_path, [f"C{i}" for i in range(1, 6)])
    balancer = RoundRobin([h.url for h in hosts], TOKEN, (BASE,))
    harness.simulator.transport, harness.simulator.media = balancer, media  # strict: no failure is expected

    first = run_campaign(harness, CAST_TWICE, START, days=15)
    recordings_settled(engine)
    clean = _outcomes(harness, list(TWINS))
    assert first["results"] == {"standard": 2, "sub_standard": 1, "verification": 2}  # as in test_campaign
    halfway, first_posts = balancer.posts // 2, balancer.posts
    assert balancer.served[hosts[0].url] > 0
    assert balancer.served[hosts[1].url] > 0

    _import(harness, tmp_path, list(TWINS.values()))
    doomed, survivor = hosts
    balancer.posts, balancer.served = 0, dict.fromkeys(balancer.served, 0)
    at_the_stop: list[tuple[str, int]] = []

    def stop_halfway(n: int, url: str) -> None:  # at the first turn of a call past half the webhooks
        if n >= halfway and "/twilio/voice/turn" in url and not at_the_stop:
            at_the_stop.append((url, balancer.served[doomed.url]))
            STOPS[how](doomed)

    balancer.before = stop_halfway
    second = run_campaign(harness, CAST_TWICE, START, days=15)

    [(url, served_before)] = at_the_stop
    assert url.startswith(f"{BASE}/twilio/voice/turn?seq=")  # mid-call
    assert served_before > 0  # the stopped host had served its share until then
    assert balancer.refused == {doomed.url: 1, survivor.url: 0}  # once refused, then out of the rotation
    assert balancer.down == [doomed.url]
    assert balancer.served[doomed.url] == served_before
    assert balancer.posts == first_posts  # Twilio sent the same requests: none failed, none repeated
    assert survivor.process.poll() is None
    assert second["calls"] == first["calls"]  # nothing dialled twice
    recordings_settled(engine)
    after = _outcomes(harness, list(TWINS.values()))
    assert {no: after[TWINS[no]] for no in TWINS} == clean  # nothing lost, nothing doubled
    for outcome in after.values():  # one call row per attempt (the invalid number: none), each its own SID
        assert outcome["distinct_sids"] == len(outcome["calls"]) == outcome["attempts"]
