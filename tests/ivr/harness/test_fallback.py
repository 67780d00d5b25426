"""Twilio's fallback URL (docs/twilio-facts.md §2.10) played by the harness against the real webhooks: a voice
webhook that fails once — before the app saw it, or after the app took the turn and committed — and the call
still ends exactly as the same call without the fault (nothing lost, nothing doubled); the fallback failing too
ends the call with Twilio's application error and the dialer's rules call the applicant again.

Each test first plays a call without faults for one policy, then the same persona with the fault for another
policy of the same product, and compares the two."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from werkzeug.serving import make_server

from calls import service as calls_service
from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.campaign import Cast, run_campaign
from ivr.harness.faults import FailingRequests, Fault
from ivr.harness.local import HttpTransport, LocalHarness
from ivr.harness.media import InjectedRecognizer
from ivr.harness.persona import Persona, persona_from
from ivr.harness.simulator import APPLICATION_ERROR, NO_RESPONSE, CallLog, SimulationError
from kit.vocab import TaskStatus
from speech.cache import PromptCache
from storage.db import units_of_work
from storage.models import Call, CallbackTask, CallEvent, Policy, Recording
from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv
from tests.ivr.conftest import BASE, TOKEN, Ivr, build_ivr, text_mode_harness


@dataclass
class Bench:
    ivr: Ivr
    harness: LocalHarness
    clean: str  # a policy called without faults
    faulty: str  # another policy of the same product, called with them
    calls: int = 0

    def play(self, policy_no: str, persona: Persona) -> tuple[CallLog, dict[str, Any]]:
        with self.harness.services.sessions() as session:
            task_id, phone = session.execute(select(CallbackTask.id, Policy.applicant_phone).join(Policy)
                                             .where(Policy.policy_no == policy_no)).one()
        self.calls += 1
        call_sid = f"CA{'f' * 30}{self.calls:02d}"
        self.harness.place(task_id, call_sid, phone)  # as the dialer registers what it placed
        log = self.harness.simulator.run(task_id, call_sid, phone, persona)
        return log, self.harness.summary(policy_no, log)

    def break_app(self, *faults: Fault) -> FailingRequests:
        # fresh copies: a Fault counts the requests it saw, and the parametrized cases share theirs across backends
        middleware = FailingRequests(self.ivr.app.wsgi_app, *(dataclasses.replace(f) for f in faults))
        self.ivr.app.wsgi_app = middleware  # type: ignore[method-assign]
        return middleware

    def events(self, call_sid: str, kind: str) -> list[CallEvent]:
        with self.harness.services.sessions() as session:
            call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
            return list(session.scalars(select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == kind)
                                        .order_by(CallEvent.seq)))

    def task(self, policy_no: str) -> CallbackTask:
        with self.harness.services.sessions() as session:
            return session.scalars(select(CallbackTask).join(Policy).where(Policy.policy_no == policy_no)).one()


def two_policies(engine: Engine, tmp_path: Path, prompt_cache: PromptCache, **options: Any) -> Bench:
    ivr = build_ivr(engine, tmp_path, prompt_cache, **options)
    svc = ivr.svc
    row = policy_row()
    PolicyIntake(units_of_work(svc.sessions), settings=svc.settings, calendar=svc.calendar, clock=ivr.clock).run(
        open_table(write_csv(tmp_path / "another.csv", [row])))
    harness = (LocalHarness.build(svc, ivr.app, InjectedRecognizer()) if options.get("keypad")
               else text_mode_harness(ivr))
    harness.simulator.strict = False  # the faults are made outside the simulator: play Twilio's behaviour
    return Bench(ivr, harness, ivr.policy_no, row["policy_no"])


@pytest.fixture
def bench(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Bench:
    return two_policies(engine, tmp_path, prompt_cache)


def shape(summary: dict[str, Any]) -> dict[str, Any]:
    """What a call came to, without what differs between two policies (the prompts' wording, the SID)."""
    return {
        "transcript": [(t["who"], t["topic"], t["text"] if t["who"] == "caller" else "", t["digits"])
                       for t in summary["transcript"]],
        **{k: summary[k] for k in ("status", "outcome", "answers", "end_reason", "result_class", "reason_codes",
                                   "handoff")},
        "cases": [c["type"] for c in summary["cases"]],
    }


YES = Persona()
HANDED_OFF = persona_from({"answers": {"default": "yes", "knows_is_insurance": "human"}}, "p")
ONE_FAILURE = {
    # the app never saw the request: a proxy's 502, a worker gone before it read it
    "a turn refused before the app": (YES, Fault("/twilio/voice/turn", nth=3, status=502), "turn?seq=3"),
    # the app took the turn and committed, then the answer was lost (a worker killed, an error on the way out)
    "a turn taken, its answer lost": (YES, Fault("/twilio/voice/turn", nth=3, when="after"), "turn?seq=3"),
    "the answered-call webhook refused": (YES, Fault("/twilio/voice/answer", status=503), "answer?task="),
    "the answered-call webhook taken, its answer lost": (YES, Fault("/twilio/voice/answer", when="after"),
                                                          "answer?task="),
    "a turn answered with invalid TwiML": (YES, Fault("/twilio/voice/turn", nth=2, status=200, body="<Response><Play>",
                                                      content_type="application/xml"), "turn?seq=2"),
    "the agent's dial action taken, its answer lost": (HANDED_OFF, Fault("/twilio/voice/dial", when="after"),
                                                        "dial?seq="),
}


@pytest.mark.parametrize("case", ONE_FAILURE)
def test_one_failed_webhook_is_continued_by_the_fallback(bench: Bench, case: str) -> None:
    persona, fault, failed = ONE_FAILURE[case]
    _, clean = bench.play(bench.clean, persona)
    broken = bench.break_app(fault)
    log, result = bench.play(bench.faulty, persona)

    assert len(broken.fired) == 1
    assert failed in broken.fired[0]
    assert [(e.code, failed in e.url) for e in log.errors] == [("11200", True)]
    fallbacks = [(url.split("/twilio/")[1], status) for url, status in log.requests if "/voice/fallback" in url]
    assert fallbacks == [("voice/fallback", 200)]  # one fallback request, answered
    assert f"say:{APPLICATION_ERROR}" not in log.played
    assert shape(result) == shape(clean)  # nothing lost, nothing doubled
    sid = result["call_sid"]
    assert len(bench.events(sid, "answer")) == len(bench.events(clean["call_sid"], "answer"))
    assert [(e.text, e.detail["ErrorCode"], failed in e.detail["ErrorUrl"]) for e in bench.events(sid, "fallback")] == [
        ("answered", "11200", True)]
    task = bench.task(bench.faulty)
    assert (task.status, task.attempts, task.result_class) == (TaskStatus.COMPLETED, 1, bench.task(bench.clean).result_class)


def test_the_fallback_failing_too_ends_the_call_and_the_dialer_calls_again(bench: Bench) -> None:
    """Neither request reached the app (both hosts down before identity was confirmed): Twilio's application
    error, a completed call; for the app a hang-up before identity, so the dialer calls again."""
    broken = bench.break_app(Fault("/twilio/voice/turn", nth=1), Fault("/twilio/voice/fallback"))
    log, result = bench.play(bench.faulty, YES)

    assert [e.code for e in log.errors] == ["11200", "11200"]  # the turn, then its fallback
    assert len(broken.fired) == 2
    assert log.played[-1] == f"say:{APPLICATION_ERROR}"  # what the caller hears from Twilio
    assert log.ended == "completed"
    assert not [t for t in result["transcript"] if t["who"] == "caller"]  # the answer never reached the app
    assert (result["outcome"], result["end_reason"], result["cases"]) == ("hangup", "hangup", [])
    _called_again(bench, "hangup")


def test_a_webhook_and_its_fallback_failing_in_the_app_are_not_the_callers_doing(
        bench: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past identity, an error in the app on a turn (the primary and its fallback both 500): the call ends with
    Twilio's application error, which the app knows from the failed fallback. Not a refusal (no case for the
    branch), not a result: the attempt failed and the dialer calls again."""
    advance = calls_service.advance

    def failing(session: Any, ctx: Any, call_sid: str, seq: int, heard: Any) -> str:
        if seq == 3:
            raise RuntimeError("a bug on turn 3")
        return advance(session, ctx, call_sid, seq, heard)

    monkeypatch.setattr(calls_service, "advance", failing)
    log, result = bench.play(bench.faulty, YES)

    assert [e.code for e in log.errors] == ["11200", "11200"]
    assert log.played[-1] == f"say:{APPLICATION_ERROR}"
    assert [t["topic"] for t in result["transcript"] if t["who"] == "caller"] == ["identity", "identity"]
    assert (result["outcome"], result["end_reason"], result["result_class"], result["cases"]) == (
        "failed", None, None, [])
    assert [(e.text, e.detail["ErrorUrl"].rsplit("/", 1)[1]) for e in bench.events(result["call_sid"], "fallback")] \
        == [("failed", "turn?seq=3")]
    _called_again(bench, "failed")


def _called_again(bench: Bench, reason: str) -> None:
    task = bench.task(bench.faulty)
    assert (task.status, task.attempts, task.result_class) == (TaskStatus.QUEUED, 1, None)
    assert task.next_attempt_at is not None
    wait = bench.harness.services.settings.dialer.retry_wait_minutes[reason]
    assert task.next_attempt_at >= bench.harness.simulator.clock.now() + timedelta(minutes=wait - 1)


def test_without_a_fallback_url_the_first_failure_ends_the_call(bench: Bench) -> None:
    bench.harness.simulator.fallback_url = None
    bench.break_app(Fault("/twilio/voice/turn", nth=3))
    log, result = bench.play(bench.faulty, YES)
    assert [e.code for e in log.errors] == ["11200"]
    assert not [url for url, _ in log.requests if "/voice/fallback" in url]
    assert log.played[-1] == f"say:{APPLICATION_ERROR}"
    assert result["outcome"] == "hangup"


def test_a_failed_status_callback_has_no_fallback_and_is_only_logged(bench: Bench) -> None:
    bench.break_app(Fault("/twilio/voice/status", nth=2))  # ringing
    log, result = bench.play(bench.faulty, YES)
    assert [(e.code, "/voice/status" in e.url) for e in log.errors] == [("11200", True)]
    assert not [url for url, _ in log.requests if "/voice/fallback" in url]
    assert result["result_class"] == "standard"


def test_a_strict_simulation_fails_loudly_on_an_error_it_did_not_make(bench: Bench) -> None:
    bench.harness.simulator.strict = True  # simulate call's default: an app error is a bug to see
    bench.break_app(Fault("/twilio/voice/turn", nth=2))
    with pytest.raises(SimulationError, match=r"11200: https://ivr\.example\.com/twilio/voice/turn\?seq=2: HTTP 500"):
        bench.play(bench.faulty, YES)


def test_a_slow_webhook_is_replayed_by_the_fallback(bench: Bench) -> None:
    """The app answered after Twilio's 15 s (the turn taken): the fallback gets the same TwiML again."""
    _, clean = bench.play(bench.clean, YES)
    bench.harness.simulator.slow_webhook = 6  # initiated, ringing, answer, in-progress, greeting turn, birthday
    log, result = bench.play(bench.faulty, YES)
    assert [e.code for e in log.errors] == ["11205"]
    assert shape(result) == shape(clean)
    assert [(e.text, e.detail["ErrorCode"]) for e in bench.events(result["call_sid"], "fallback")] == [
        ("answered", "11205")]


def test_a_campaign_uses_the_fallback_url_the_dialer_placed_each_call_with(
        engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    """A second host for the fallback (ivr.fallback_base_url): the simulator knows no fallback of its own, so
    the call goes on only through the FallbackUrl in the dialer's request."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, fallback_base_url="https://fallback.example.com")
    harness = text_mode_harness(ivr)
    harness.simulator.fallback_url = None
    harness.simulator.strict = False
    broken = FailingRequests(ivr.app.wsgi_app, Fault("/twilio/voice/turn", nth=4, when="after"))
    ivr.app.wsgi_app = broken  # type: ignore[method-assign]
    summary = run_campaign(harness, Cast({"default": YES}, {}), local("2026-11-25T09:00:00"), days=15)
    assert summary["results"] == {"standard": 1}
    assert summary["calls"] == 1
    assert len(broken.fired) == 1
    with harness.services.sessions() as session:
        fallbacks = list(session.scalars(select(CallEvent).where(CallEvent.kind == "fallback")))
        assert [e.detail["ErrorUrl"] for e in fallbacks] == ["https://ivr.example.com/twilio/voice/turn?seq=4"]
        assert session.scalars(select(CallbackTask)).one().attempts == 1



# -- a web host killed with SIGKILL mid-call: real processes, real HTTP --------------------------------------

FALLBACK_HOST = "https://fallback.example.com"
ROOT = Path(__file__).resolve().parents[3]


class Primary:
    """The primary web host: a process of its own (tests/ivr/harness/run_web.py), started again when it dies,
    as a supervisor (systemd, gunicorn's master) would."""

    def __init__(self, *args: str, die_on: str) -> None:
        self.args = args
        self.exits: list[int] = []
        self.start("--die-on", die_on)

    def start(self, *extra: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.ivr.harness.run_web", *self.args, *extra],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            self.process.kill()
            raise AssertionError(f"the web host did not start: {self.process.communicate()[1][-2000:]}")
        self.http = HttpTransport(f"http://127.0.0.1:{line.split()[1]}", TOKEN, BASE)

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        status, body = self.http.post(url, form)
        if status == NO_RESPONSE:  # it died: Twilio sees a connection failure; the host comes back for the next
            self.exits.append(self.process.wait(timeout=60))
            self.start()
        return status, body

    def get(self, url: str) -> tuple[int, bytes]:
        return self.http.get(url)

    def stop(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=60)


@dataclass
class Hosts:
    """Twilio's view: the primary host for the call's URLs, the second host for its FallbackUrl."""

    primary: Primary
    fallback: HttpTransport

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        return (self.fallback if url.startswith(FALLBACK_HOST) else self.primary).post(url, form)

    def get(self, url: str) -> tuple[int, bytes]:
        return self.primary.get(url)


def test_a_web_host_killed_mid_call_after_taking_a_turn(engine: Engine, db_url: str, tmp_path: Path,
                                                         prompt_cache: PromptCache) -> None:
    """The primary host takes turn 3 (committed) and is SIGKILLed before answering: Twilio gets no answer
    (11205) and asks the fallback host, which replays turn 3's TwiML from the database; the primary comes back
    and serves the rest. The call ends as the same call without the fault: nothing lost, nothing doubled."""
    bench = two_policies(engine, tmp_path, prompt_cache, keypad=True, fallback_base_url=FALLBACK_HOST)
    second = make_server("127.0.0.1", 0, bench.ivr.app, threaded=True)
    threading.Thread(target=second.serve_forever, daemon=True).start()
    doomed = f"CA{'f' * 30}02"  # the second call bench.play makes
    primary = Primary(db_url, str(prompt_cache.root), str(tmp_path / "recordings"), FALLBACK_HOST,
                      die_on=f"{doomed}:3")
    try:
        bench.harness.simulator.transport = Hosts(
            primary, HttpTransport(f"http://127.0.0.1:{second.server_port}", TOKEN, FALLBACK_HOST))
        _, clean = bench.play(bench.clean, YES)
        log, result = bench.play(bench.faulty, YES)
    finally:
        second.shutdown()
        primary.stop()

    assert result["call_sid"] == doomed
    assert primary.exits == [-signal.SIGKILL]
    assert [(e.code, e.url.rsplit("/", 1)[1]) for e in log.errors] == [("11205", "turn?seq=3")]
    assert shape(result) == shape(clean)
    assert len(bench.events(doomed, "answer")) == len(bench.events(clean["call_sid"], "answer"))
    assert [(e.text, e.detail["ErrorCode"]) for e in bench.events(doomed, "fallback")] == [("answered", "11205")]
    for policy_no in (bench.clean, bench.faulty):
        task = bench.task(policy_no)
        assert (task.status, task.attempts, task.result_class is not None) == (TaskStatus.COMPLETED, 1, True)
    with bench.harness.services.sessions() as session:
        stored = session.scalars(select(Recording.status).join(Call).where(Call.call_sid == doomed)).all()
        assert [s.value for s in stored] == ["stored"]
