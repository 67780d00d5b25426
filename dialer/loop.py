"""The dialer: each tick claims due tasks (committed), then places their calls one by one, paced.

A claim is a lease: a dialer that dies leaves its tasks to another once the lease runs out, which first
checks whether the call was placed after all (Twilio's first status callback registers it), so a task is
never dialled twice. A failed placement gives the claim back (or holds a bad number).

The account's limits hold across every dialer process: claims are counted against `max_concurrent_calls`
one dialer at a time (an advisory lock around the claim transaction, storage.locks.CLAIMS), and each
placement takes its slot from the account's shared pacing row (dialer.pacing.SharedPacer) in a transaction
of its own, waiting for it outside any transaction. A claim whose lease is about to run out while it waited
is given back rather than placed, so a dialer taking it over cannot dial it a second time.

Twilio's POST /Calls is not idempotent. A placement whose answer was lost (no answer in time, the connection
dropped after sending, a 5xx) may have created the call: its task stays under the claim, is not asked for
again, and the dialer backs off. When the claim runs out, the dialer that takes it over first asks the provider
(CallLookup) whether a call to the number was created since the claim: found, it is adopted (registered under
its CallSid); not found, the task is dialled; the provider unable to tell, the task waits for a later tick.

Supervisors pause calling for all, a branch or a product type (dialer.controls): each tick reads the pauses in
force in its claim transaction, and the tasks they cover are not claimed (calls already placed go on). At the end
of each tick the dialer writes its heartbeat (dialer.status): last tick, claims in flight, back-off, CPS.

The database may restart under a running dialer: connections are pinged when taken from the pool, a claim
whose connection was lost is tried again on a new one, and a call Twilio created is recorded on a new
connection, waited for with backoff, since it exists whatever the database says.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dialer.controls import paused_scopes
from dialer.hours import CallingRules
from dialer.pacing import Pacing, SharedPacer
from dialer.retry import schedule_retry
from dialer.status import Beat, record_tick
from dialer.telephony import CallLookup, CallRequest, PlacementError, PlacementProblem, TelephonyProvider
from kit.calendar import BusinessCalendar
from kit.clock import Clock, business_today
from kit.settings import Settings
from kit.vocab import QuestionnaireVariant, RetryReason, TaskStatus
from storage.db import on_a_new_connection, unit_of_work
from storage.locks import CLAIMS, hold_for_transaction
from storage.models import CallbackTask, Policy
from storage.repositories import calls as call_repo
from storage.repositories import claims
from tasks.holds import hold_wrong_number
from tasks.lifecycle import TaskEvent, apply, call_lease

log = logging.getLogger(__name__)
# after Twilio created a call, its record is tried again on a new connection after each of these waits (s):
# the call exists, and a database that restarts is back within them (a connection dropped alone: at once)
RECORD_WAITS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
CPS_WINDOW = timedelta(seconds=60)  # the CPS a dialer reports: its placements in the last minute / 60


@dataclass
class TickResult:
    claimed: int = 0
    placed: int = 0
    held: int = 0
    released: int = 0
    adopted: int = 0  # a dead dialer's placement found registered: not dialled again
    requeued: int = 0  # a call whose end was never reported: retried
    unknown: int = 0  # placements whose answer was lost: kept under their claim, looked up when it runs out
    unresolved: int = 0  # run-out claims of unknown placements the provider could not look up yet: left as they are
    waited_for_slot: int = 0  # placements that waited for the account's next slot (calls_per_second)
    slot_wait_s: float = 0.0  # how long they waited, in all
    backoff_until: datetime | None = None
    paused: int = 0  # pauses in force at the tick (their tasks were not claimed)

    def add(self, other: TickResult) -> None:
        for name in ("claimed", "placed", "held", "released", "adopted", "requeued", "unknown", "unresolved",
                     "waited_for_slot", "slot_wait_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Claimed:
    task_id: int
    to: str
    claimed_at: datetime  # with the dialer's id, the claim's token: only its holder may move the task on


@dataclass
class Dialer:
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar
    sessions: sessionmaker[Session]
    provider: TelephonyProvider
    dialer_id: str
    prepare: Callable[[int], object] | None = None  # render the call's prompts (task id) before dialing
    pacer: Pacing | None = None  # default: the account's pacing shared with every dialer (SharedPacer)
    sleep: Callable[[float], None] = time.sleep  # waiting for the database to come back (RECORD_WAITS)
    ticks_every_s: int | None = None  # its tick interval, for its heartbeat (None: a one-off run, never stale)
    _failures: int = field(default=0, init=False)
    _backoff_until: datetime | None = field(default=None, init=False)
    _placements: deque[datetime] = field(default_factory=deque, init=False)  # within CPS_WINDOW

    def __post_init__(self) -> None:
        self.rules = CallingRules.from_settings(self.settings.dialer, self.calendar)
        self.pacer = self.pacer or SharedPacer(self.sessions, self.settings.dialer.calls_per_second,
                                               account=self.settings.twilio.account_sid)
        self.started_at = self.clock.now()

    # -- the loop ------------------------------------------------------------------------------

    def tick(self) -> TickResult:
        result = self._tick()
        self._beat(result)
        return result

    def cps(self) -> float:
        """Calls this dialer placed in the last minute, per second."""
        since = self.clock.now() - CPS_WINDOW
        while self._placements and self._placements[0] < since:
            self._placements.popleft()
        return round(len(self._placements) / CPS_WINDOW.total_seconds(), 3)

    def _beat(self, result: TickResult) -> None:
        """The heartbeat `huifang dialer status` and the console read; a heartbeat that cannot be written is
        logged and the dialer goes on (the next tick writes it)."""
        beat = Beat(self.dialer_id, self.started_at, self.clock.now(), self.ticks_every_s, result.placed,
                    result.paused, result.backoff_until, self.cps(), self.settings.dialer.calls_per_second)
        try:
            with unit_of_work(self.sessions) as session:
                record_tick(session, beat)
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("could not write the heartbeat of dialer %s: %s", self.dialer_id, exc)

    def _tick(self) -> TickResult:
        result = TickResult(backoff_until=self._backoff_until)
        now = self.clock.now()
        if self._backoff_until is not None and now < self._backoff_until:
            return result
        looked_up = self._look_up(now)
        if self._backoff_until is not None and now < self._backoff_until:  # Twilio could not answer a lookup
            result.backoff_until = self._backoff_until
            return result

        def claim() -> tuple[list[Claimed], TickResult]:
            counts = TickResult()
            with unit_of_work(self.sessions) as session:
                claimed = self._claim(session, now, counts, looked_up)
                session.commit()  # the claims stand before any call is placed (no network I/O in a transaction)
            return claimed, counts

        # a claim whose connection was lost is claimed again on a new one (had its COMMIT gone through, those
        # claims run out unplaced and are dialled after their lease: nothing lost, nothing twice)
        claimed, counts = on_a_new_connection(claim, what="claiming due tasks")
        result.add(counts)
        result.paused = counts.paused
        for index, item in enumerate(claimed):
            if not self._dial(item, result):
                with unit_of_work(self.sessions) as session:  # backing off: give the rest back
                    result.released += self._release(session, claimed[index + 1:])
                    session.commit()
                break
        result.backoff_until = self._backoff_until
        return result

    def drain(self, max_ticks: int = 10_000) -> TickResult:
        """Tick until a tick finds nothing to do (tests, `huifang dialer --drain`)."""
        total = TickResult()
        for _ in range(max_ticks):
            result = self.tick()
            total.add(result)
            total.backoff_until, total.paused = result.backoff_until, result.paused
            if not (result.claimed or result.adopted or result.requeued) or result.backoff_until:
                break
        return total

    # -- claiming ------------------------------------------------------------------------------

    def _look_up(self, now: datetime) -> dict[int, list[str]] | None:
        """Claims that ran out while dialing with no call registered since (a dialer died placing the call, or
        the answer to its placement was lost): the calls the provider has for each, asked outside any
        transaction. None when the provider cannot list its calls (the task is then dialled again, as a dead
        dialer's claim always was); a task missing from the answer could not be looked up now."""
        if not isinstance(self.provider, CallLookup):
            return None
        with unit_of_work(self.sessions) as session:
            unsure = claims.expired_unregistered(session, now, limit=self.settings.dialer.batch_size,
                                                 pauses=paused_scopes(session))
        found: dict[int, list[str]] = {}
        for task_id, to, since in unsure:
            try:
                found[task_id] = self.provider.placed_since(to, self.settings.dialer.caller_id, since)
            except PlacementError as exc:
                log.warning("cannot look up whether the call of task %s was placed (%s): it waits", task_id, exc)
                self._back_off(exc, now)
                break
        return found

    def _claim(self, session: Session, now: datetime, result: TickResult,
               looked_up: dict[int, list[str]] | None = None) -> list[Claimed]:
        pauses = paused_scopes(session)  # read in the claim's transaction: a pause committed before it holds
        result.paused = len(pauses)
        window_open = self.rules.in_window(now)
        if not window_open and not self.rules.appointment_allowed(now):
            return []
        d = self.settings.dialer
        hold_for_transaction(session, CLAIMS)  # one dialer at a time counts and claims, until its commit
        capacity = min(d.batch_size, d.max_concurrent_calls - claims.in_flight(session, now))
        if capacity <= 0:
            return []
        today = business_today(self.clock)
        lock = session.get_bind().dialect.name == "postgresql"
        out: list[Claimed] = []
        for task in claims.claimable(session, now=now, today=today, limit=capacity, window_open=window_open,
                                     lock=lock, pauses=pauses):
            if task.status is TaskStatus.DIALING:  # its claim ran out while dialing: was the call placed?
                if task.claimed_at and call_repo.registered_since(session, task.id, task.claimed_at):
                    apply(task, TaskEvent.ADOPT, now, lease_until=now + self._call_lease())
                    result.adopted += 1
                    continue
                if looked_up is not None:  # the provider knows: Twilio's calls to the number since the claim
                    sids = looked_up.get(task.id)
                    if sids is None:  # not looked up (Twilio could not tell, or it ran out since): later
                        result.unresolved += 1
                        continue
                    if sids:
                        self._adopt_found(session, task, sids, now)
                        result.adopted += 1
                        continue
            elif task.status is TaskStatus.IN_PROGRESS:  # the call's end was never reported
                schedule_retry(session, task, RetryReason.FAILED, now, now=now, settings=self.settings,
                               rules=self.rules)
                result.requeued += 1
                continue
            if today > task.deadline:
                task.questionnaire_variant = QuestionnaireVariant.B  # late: remind to read the terms
            apply(task, TaskEvent.CLAIM, now, claimed_by=self.dialer_id,
                  lease_until=now + timedelta(seconds=d.lease_seconds))
            policy = session.get(Policy, task.policy_id)
            assert policy is not None
            out.append(Claimed(task.id, policy.applicant_phone, now))
        result.claimed += len(out)
        return out

    def _adopt_found(self, session: Session, task: CallbackTask, sids: list[str], now: datetime) -> None:
        """Calls Twilio created for a claim that never heard back: registered under their CallSids (their
        callbacks then find them), and the task on the call, not dialled again."""
        policy = session.get(Policy, task.policy_id)
        for sid in sids:
            if call_repo.by_sid(session, sid) is None:
                call = call_repo.create(session, call_sid=sid, task_id=task.id, policy_id=task.policy_id, now=now)
                call.dialled_number = policy.applicant_phone if policy else None
                call.caller_id = self.settings.dialer.caller_id or None
        log.warning("task %s: its unanswered placement had created %s at Twilio: adopted, not dialled again",
                    task.id, ", ".join(sids))
        apply(task, TaskEvent.ADOPT, now, lease_until=now + self._call_lease())

    def _release(self, session: Session, items: list[Claimed]) -> int:
        released = 0
        now = self.clock.now()
        for item in items:
            task = self._still_mine(session, item)
            if task is not None:
                apply(task, TaskEvent.RELEASE, now)
                released += 1
        return released

    def _still_mine(self, session: Session, item: Claimed) -> CallbackTask | None:
        """The task (row locked) while this dialer's claim on it stands: not re-queued, held or taken over
        by a status callback or another dialer since (a conditional update on the claim's token)."""
        task = session.get(CallbackTask, item.task_id, with_for_update=True, populate_existing=True)
        if task is None or task.status is not TaskStatus.DIALING:
            return None
        if task.claimed_by != self.dialer_id or task.claimed_at != item.claimed_at:
            return None
        return task

    # -- placing -------------------------------------------------------------------------------

    def _call_lease(self) -> timedelta:
        return call_lease(self.settings.ivr.max_call_seconds)

    def request(self, item: Claimed) -> CallRequest:
        base = self.settings.ivr.public_base_url
        return CallRequest(
            task_id=item.task_id, to=item.to, caller_id=self.settings.dialer.caller_id,
            answer_url=f"{base}/twilio/voice/answer?task={item.task_id}",
            fallback_url=f"{self.settings.ivr.fallback_base}/twilio/voice/fallback",
            status_url=f"{base}/twilio/voice/status?task={item.task_id}",
            recording_status_url=f"{base}/twilio/recording",
            ring_timeout_s=self.settings.dialer.ring_timeout_s,
            time_limit_s=self.settings.ivr.max_call_seconds + 60,  # Twilio's hard stop, after the robot's own
            machine_detection=self.settings.dialer.machine_detection,
        )

    def _dial(self, item: Claimed, result: TickResult) -> bool:
        """Place one claimed call. False when the dialer must back off."""
        if self.prepare is not None:
            try:
                self.prepare(item.task_id)
            except Exception:  # a prompt not rendered now is rendered at its webhook: the call still goes
                log.exception("could not prepare the prompts of task %s", item.task_id)
        assert self.pacer is not None
        waited = self.pacer.wait()
        if waited:
            result.waited_for_slot += 1
            result.slot_wait_s += waited
        if not self._lease_holds(item):
            with unit_of_work(self.sessions) as session:
                result.released += self._release(session, [item])
                session.commit()
            log.warning("the claim on task %s would run out before its call is registered: given back", item.task_id)
            return False
        try:
            sid = self.provider.place(self.request(item))
        except PlacementError as exc:
            return self._failed(item, exc, result)

        def record() -> None:  # again after a lost connection: the call found by its SID, the task moved once
            now = self.clock.now()
            with unit_of_work(self.sessions) as session:
                call = call_repo.by_sid(session, sid, lock=True)  # locks in the webhooks' order: call, then task
                if call is None:  # Twilio's first callback may have registered it
                    call = call_repo.create(session, call_sid=sid, task_id=item.task_id,
                                            policy_id=_policy_id(session, item), now=now)
                call.dialled_number, call.caller_id = item.to, self.settings.dialer.caller_id or None
                task = self._still_mine(session, item)
                if task is not None:  # else a status callback already moved it on (re-queued, held): leave it
                    apply(task, TaskEvent.PLACED, now, lease_until=now + self._call_lease())
                session.commit()

        on_a_new_connection(record, what=f"recording call {sid} of task {item.task_id}", waits=RECORD_WAITS,
                            sleep=self.sleep)
        self._failures, self._backoff_until = 0, None
        self._placements.append(self.clock.now())
        result.placed += 1
        return True

    def _lease_holds(self, item: Claimed) -> bool:
        """Whether the claim still has a tenth of its lease left (by the business clock): enough for the call
        to be placed and registered before another dialer may take the task over."""
        lease = timedelta(seconds=self.settings.dialer.lease_seconds)
        return self.clock.now() < item.claimed_at + lease - lease / 10

    def _failed(self, item: Claimed, exc: PlacementError, result: TickResult) -> bool:
        now = self.clock.now()
        if exc.problem is PlacementProblem.UNKNOWN:
            # the call may exist: the task stays under this claim, never asked for again before it runs out
            result.unknown += 1
            wait = self._back_off(exc, now)
            log.warning("placing task %s got no answer (%s): the call may exist, so the task stays claimed until "
                        "%s and is looked up then; backing off %ss", item.task_id, exc,
                        (item.claimed_at + timedelta(seconds=self.settings.dialer.lease_seconds)).isoformat(), wait)
            return False
        with unit_of_work(self.sessions) as session:
            if exc.problem is PlacementProblem.INVALID_NUMBER:
                task = self._still_mine(session, item)
                if task is not None:
                    hold_wrong_number(session, task, str(exc), now=now, cases=self.settings.cases,
                                      calendar=self.calendar)
                    result.held += 1
                session.commit()
                return True
            result.released += self._release(session, [item])
            session.commit()
        wait = self._back_off(exc, now)
        level = logging.ERROR if exc.problem is PlacementProblem.REFUSED else logging.WARNING
        log.log(level, "placing task %s failed (%s): backing off %ss", item.task_id, exc, wait)
        return False

    def _back_off(self, exc: PlacementError, now: datetime) -> float:
        """Back off after a failure: doubling from backoff_seconds up to max_backoff_seconds, and never less
        than Twilio's Retry-After. Returns the wait in seconds."""
        self._failures += 1
        d = self.settings.dialer
        wait = float(min(d.max_backoff_seconds, d.backoff_seconds * 2 ** (self._failures - 1)))
        if exc.retry_after_s is not None:
            wait = max(wait, exc.retry_after_s)
        self._backoff_until = now + timedelta(seconds=wait)
        return wait


def _policy_id(session: Session, item: Claimed) -> int:
    task = session.get(CallbackTask, item.task_id)
    assert task is not None
    return task.policy_id
