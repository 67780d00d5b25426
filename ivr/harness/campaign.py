"""A campaign on the virtual clock: the real dialer places calls through a simulated provider, the
harness plays each call against the real webhooks, and time jumps over the idle hours and nights."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from calls.service import prepare
from cases.service import sweep
from dialer.loop import Dialer
from dialer.pacing import Pacer
from dialer.telephony import CallRequest, PlacementError, PlacementProblem
from ecallback.jobs import tick as ecallback_tick
from ivr.harness.local import LocalHarness
from ivr.harness.persona import Persona, PersonaError, persona_from
from ivr.harness.sids import CALL, mint
from kit.clock import BUSINESS_TZ, business_start_of
from kit.vocab import CallbackChannel, TaskStatus
from messaging.queue import Outbound
from messaging.senders import OutboxSender
from storage.db import unit_of_work
from storage.models import Call, CallbackTask, Case, Policy
from tasks.rules import is_late

TICK = timedelta(minutes=5)


@dataclass(frozen=True)
class Cast:
    """Who answers which policy: personas by name, assigned by policy number, with a default."""

    personas: Mapping[str, Persona]
    assign: Mapping[str, str]

    def persona_for(self, policy_no: str) -> Persona:
        name = self.assign.get(policy_no) or self.assign.get("default") or "default"
        return self.personas.get(name) or Persona()


def load_cast(path: Path) -> Cast:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PersonaError(f"{path}: cannot read the personas ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("personas"), dict):
        raise PersonaError(f"{path}: expected `personas: {{name: {{...}}}}` and `assign: {{POLICY_NO: name}}`")
    personas = {str(name): persona_from(spec, f"{path}: personas.{name}") for name, spec in data["personas"].items()}
    assign = {str(k): str(v) for k, v in (data.get("assign") or {}).items()}
    for key, name in assign.items():
        if name not in personas:
            raise PersonaError(f"{path}: assign.{key}: no persona named {name!r}")
    return Cast(personas, assign)


@dataclass
class SimulatedProvider:
    """The dialer's telephony provider for simulations: calls are queued, then played by the harness."""

    harness: LocalHarness
    cast: Cast
    policy_of: Mapping[int, str]
    pending: list[tuple[CallRequest, str, Persona, int]] = field(default_factory=list)
    attempts: Counter[int] = field(default_factory=Counter)

    def place(self, request: CallRequest) -> str:
        persona = self.cast.persona_for(self.policy_of[request.task_id])
        self.attempts[request.task_id] += 1
        attempt = self.attempts[request.task_id]
        if persona.pickup_on(attempt) == "invalid-number":
            raise PlacementError(PlacementProblem.INVALID_NUMBER, "Twilio 21211: Invalid 'To' Phone Number", 21211)
        sid = mint(CALL)  # Twilio's answer to POST /Calls: the new call's SID
        self.pending.append((request, sid, persona, attempt))
        return sid

    def run_pending(self) -> int:
        """Play the queued calls. Like Twilio, the account's queue starts them at its calls-per-second rate
        (dialer.calls_per_second; 0: all at once); once started, the lines run in parallel."""
        clock = self.harness.simulator.clock
        start = clock.now()
        cps = self.harness.services.settings.dialer.calls_per_second
        gap = timedelta(seconds=1 / cps) if cps > 0 else timedelta(0)
        ran = 0
        while self.pending:
            request, sid, persona, attempt = self.pending.pop(0)
            clock.set(start + ran * gap)
            self.harness.simulator.run(request.task_id, sid, request.to, persona, attempt, request.fallback_url)
            ran += 1
        clock.set(start)
        return ran


def run_campaign(harness: LocalHarness, cast: Cast, start: datetime, days: int, *,
                 between_ticks: Callable[[], object] | None = None) -> dict[str, Any]:
    """`between_ticks`: called before each dialer tick (a fault test restarts the database there)."""
    services = harness.services
    clock = harness.simulator.clock
    with services.sessions() as session:
        policy_of = dict(session.execute(select(CallbackTask.id, Policy.policy_no).join(Policy)).all())
    provider = SimulatedProvider(harness, cast, policy_of)
    dialer = Dialer(settings=services.settings, clock=clock, calendar=services.calendar, sessions=services.sessions,
                    provider=provider, dialer_id="simulated", pacer=Pacer(0),
                    prepare=lambda task_id: prepare(services.sessions, services.calls, task_id))
    # the e-callback's job, its SMS kept in the simulated outbox (`huifang sms outbox`), never sent
    outbound = Outbound(services.sessions, OutboxSender(services.sessions, clock), clock, services.settings.sms)
    clock.set(start)
    end = start + timedelta(days=days)
    calls = 0
    swept: date | None = None
    while clock.now() < end:
        today = clock.now().astimezone(BUSINESS_TZ).date()
        if today != swept:  # the SLA sweep and the e-callback job, once a simulated day
            with unit_of_work(services.sessions) as session:
                sweep(session, now=clock.now(), settings=services.settings.cases)
                session.commit()
            ecallback_tick(services.sessions, outbound, settings=services.settings, calendar=services.calendar,
                           clock=clock)
            swept = today
        if between_ticks is not None:
            between_ticks()
        result = dialer.tick()
        calls += provider.run_pending()
        if result.claimed or result.adopted or result.requeued:
            clock.advance(TICK)
            continue
        upcoming = _next_due(harness, clock.now())
        if upcoming is None:
            if not _waiting_off_the_phone(harness):
                break
            upcoming = business_start_of(today + timedelta(days=1))  # the e-callback's next day
        clock.set(dialer.rules.next_callable(max(upcoming, clock.now() + TICK)))
    return summary(harness, calls)


def _next_due(harness: LocalHarness, now: datetime) -> datetime | None:
    """When the next queued phone task becomes due (its retry time, appointment or opening day), if any."""
    with harness.services.sessions() as session:
        rows = session.execute(select(CallbackTask.next_attempt_at, CallbackTask.appointment_at,
                                      CallbackTask.opens_on).where(CallbackTask.status == TaskStatus.QUEUED,
                                                                   CallbackTask.channel == CallbackChannel.PHONE)).all()
    if not rows:
        return None
    times = [max(filter(None, (nxt, appt, business_start_of(opens)))) for nxt, appt, opens in rows]
    return min(times)


def _waiting_off_the_phone(harness: LocalHarness) -> bool:
    """Queued callbacks on the e-callback (their link, then the next channel, come from the daily job)."""
    with harness.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(CallbackTask).where(
            CallbackTask.status == TaskStatus.QUEUED, CallbackTask.channel == CallbackChannel.ECALLBACK)) != 0


def _count(rows: list[tuple[Any, int]]) -> dict[str, int]:
    return {str(key): n for key, n in sorted(rows, key=lambda kv: str(kv[0])) if key is not None}


def summary(harness: LocalHarness, calls: int) -> dict[str, Any]:
    """The campaign's outcome (docs/interfaces.md `simulate campaign`), plus tasks by status and call outcomes."""
    with harness.services.sessions() as session:
        results = session.execute(select(CallbackTask.result_class, func.count())
                                  .group_by(CallbackTask.result_class)).all()
        cases = session.execute(select(Case.type, func.count()).group_by(Case.type)).all()
        statuses = session.execute(select(CallbackTask.status, func.count())
                                   .group_by(CallbackTask.status)).all()
        outcomes = session.execute(select(Call.outcome, func.count()).group_by(Call.outcome)).all()
        done = session.execute(select(CallbackTask.deadline, CallbackTask.completed_at)
                               .where(CallbackTask.completed_at.is_not(None))).all()
    late = sum(is_late(deadline=deadline, completed_on=at.astimezone(BUSINESS_TZ).date(), today=at.date())
               for deadline, at in done if at is not None)
    return {"calls": calls, "results": _count(list(results)), "cases": _count(list(cases)), "late": late,
            "tasks": _count(list(statuses)), "outcomes": _count(list(outcomes))}
