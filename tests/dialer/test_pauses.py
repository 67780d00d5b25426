"""Pausing and resuming calling (dialer.controls) on SQLite and PostgreSQL: which tasks a pause holds back, what
it leaves alone (calls under way, retry times), its history and audit trail, who may do it; and the dialers'
heartbeats and the due backlog (dialer.status)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dialer import controls
from dialer.controls import ControlError
from dialer.loop import TickResult
from dialer.status import backlog_by_hour, status
from kit.actor import Actor, NotAllowed
from kit.vocab import TaskStatus
from storage.models import AuditEvent, DialerHeartbeat, DialerPause
from tests.dialer.conftest import Bench, local
from tests.factories import policy_row

SUPERVISOR = Actor.of("张总", ["supervisor"])
OTHER_SUPERVISOR = Actor.of("李总", ["supervisor"])


def _world(bench: Bench) -> None:
    """Four due tasks: Beijing traditional (BT), Beijing health (BH), Tianjin traditional (TT), Tianjin health (TH)."""
    tianjin = {"branch_code": "120100", "branch_name": "天津分公司"}
    bench.load([policy_row(policy_no="BT"), policy_row(policy_no="BH", product_type="health"),
                policy_row(policy_no="TT", **tianjin), policy_row(policy_no="TH", product_type="health", **tianjin)])


def _pause(bench: Bench, branch: str | None = None, product_type: str | None = None, reason: str = "核对名单",
           actor: Actor = SUPERVISOR) -> controls.PauseView:
    with bench.sessions() as s:
        view = controls.pause(s, actor, branch=branch, product_type=product_type, reason=reason, now=bench.clock.now())
        s.commit()
    return view


def _resume(bench: Bench, branch: str | None = None, product_type: str | None = None, reason: str = "核对完毕",
            actor: Actor = SUPERVISOR) -> controls.PauseView:
    with bench.sessions() as s:
        view = controls.resume(s, actor, branch=branch, product_type=product_type, reason=reason,
                               now=bench.clock.now())
        s.commit()
    return view


def _dialled_policies(bench: Bench) -> set[str]:
    by_id = {bench.task(p).id: p for p in ("BT", "BH", "TT", "TH")}
    return {by_id[t] for t in bench.dialled()}


@pytest.mark.parametrize(("branch", "product_type", "held_back"), [
    ("110100", None, {"BT", "BH"}),
    (None, "health", {"BH", "TH"}),
    ("120100", "health", {"TH"}),
    (None, None, {"BT", "BH", "TT", "TH"}),
])
def test_a_pause_holds_back_exactly_its_scope_and_the_dialer_places_the_rest(
        bench: Bench, branch: str | None, product_type: str | None, held_back: set[str]) -> None:
    _world(bench)
    _pause(bench, branch, product_type)
    result = bench.dialer().tick()
    assert result.paused == 1
    assert _dialled_policies(bench) == {"BT", "BH", "TT", "TH"} - held_back
    for policy_no in held_back:
        task = bench.task(policy_no)
        assert (task.status, task.claimed_by, task.next_attempt_at) == (TaskStatus.QUEUED, None, None)  # waiting
    _resume(bench, branch, product_type)
    assert bench.dialer().tick().placed == len(held_back)
    assert _dialled_policies(bench) == {"BT", "BH", "TT", "TH"}


def test_pauses_add_up_and_resuming_one_leaves_the_others(bench: Bench) -> None:
    _world(bench)
    _pause(bench, branch="110100")
    _pause(bench, product_type="health")
    bench.dialer().tick()
    assert _dialled_policies(bench) == {"TT"}
    _resume(bench, branch="110100")
    bench.dialer().tick()
    assert _dialled_policies(bench) == {"TT", "BT"}  # BH is still a health policy
    with bench.sessions() as s:
        assert [(p.branch, p.product_type) for p in controls.pauses_in_force(s)] == [(None, "health")]


def test_calls_under_way_finish_and_a_dead_dialers_claim_waits_out_the_pause(bench: Bench) -> None:
    _world(bench)
    dialer = bench.dialer()
    with bench.sessions() as s, s.begin():  # a dialer claimed BT (Beijing) and died before placing it
        claimed = bench.dialer("dead", batch_size=1)._claim(s, bench.clock.now(), TickResult())
    assert [c.task_id for c in claimed] == bench.task_ids("BT")
    bench.clock.advance(timedelta(seconds=bench.settings.dialer.lease_seconds + 1))
    _pause(bench, branch="110100")
    result = dialer.tick()
    assert _dialled_policies(bench) == {"TT", "TH"}  # the Beijing claims that ran out are not taken over
    assert result.placed == 2
    assert bench.task("BT").status is TaskStatus.DIALING  # waiting under its run-out claim
    _pause(bench, branch="120100")
    assert dialer.tick().claimed == 0
    for policy_no in ("TT", "TH"):  # the calls placed before the pause go on: not released, not re-queued
        task = bench.task(policy_no)
        assert (task.status, task.claimed_by) == (TaskStatus.IN_PROGRESS, "d1")
    with bench.sessions() as s:
        view = status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(), stale_after_ticks=3)
    assert {d.name: d.in_flight for d in view.dialers} == {"d1": 2}
    _resume(bench, branch="110100")
    assert dialer.tick().placed == 2  # the run-out claims, taken over once resumed
    assert _dialled_policies(bench) == {"TT", "TH", "BT", "BH"}


def test_retry_times_are_kept_while_paused(bench: Bench) -> None:
    _world(bench)
    retry_at = local("2026-11-25T12:00:00")
    bench.update("BT", next_attempt_at=retry_at, attempts=1)
    _pause(bench, branch="110100")
    bench.clock.set(local("2026-11-25T13:00:00"))
    bench.dialer().tick()
    task = bench.task("BT")
    assert (task.status, task.next_attempt_at, task.attempts) == (TaskStatus.QUEUED, retry_at, 1)


def test_a_pause_and_its_resume_are_kept_as_history_and_audited(bench: Bench) -> None:
    _world(bench)
    paused = _pause(bench, branch="110100", reason="分公司反映号码批次有误")
    assert paused.as_json() == {"branch": "110100", "product_type": None, "since": "2026-11-25T10:00:00+08:00",
                                "by": "张总", "reason": "分公司反映号码批次有误"}
    bench.clock.advance(timedelta(hours=2))
    resumed = _resume(bench, branch="110100", reason="号码已更正", actor=OTHER_SUPERVISOR)
    assert resumed.as_json() == {**paused.as_json(), "resumed_at": "2026-11-25T12:00:00+08:00", "resumed_by": "李总",
                                 "resume_reason": "号码已更正"}
    with bench.sessions() as s:
        assert controls.pauses_in_force(s) == []
        assert [h.as_json() for h in controls.history(s)] == [resumed.as_json()]
        audit = [(e.operator, e.action, e.target, e.reason, e.detail)
                 for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert audit == [("张总", "dialer_paused", "dialer: branch 110100", "分公司反映号码批次有误", f"pause {paused.id}"),
                     ("李总", "dialer_resumed", "dialer: branch 110100", "号码已更正", f"pause {paused.id}")]
    _pause(bench, branch="110100", reason="再次暂停")  # the same scope may be paused again
    with bench.sessions() as s:
        assert s.query(DialerPause).count() == 2


def test_what_is_refused_changes_nothing(bench: Bench) -> None:
    _world(bench)
    _pause(bench, branch="110100")
    with pytest.raises(ControlError, match="branch 110100 is paused already .* by 张总: 核对名单") as twice:
        _pause(bench, branch="110100", actor=OTHER_SUPERVISOR)
    assert twice.value.current is not None
    assert twice.value.current.by == "张总"
    with pytest.raises(ControlError, match=r"all calling is not paused \(paused now: branch 110100\)") as not_paused:
        _resume(bench)
    assert [p.branch for p in not_paused.value.in_force] == ["110100"]
    with pytest.raises(ControlError, match="branch 120100 is not paused"):
        _resume(bench, branch="120100")  # a pause of another scope is not resumed by this one
    for kwargs, field in (({"branch": "999999"}, "branch"), ({"product_type": "annuity"}, "product_type"),
                          ({"reason": "  "}, "reason"), ({"reason": "长" * 501}, "reason")):
        with pytest.raises(ControlError) as refused:
            _pause(bench, **kwargs)  # type: ignore[arg-type]
        assert refused.value.field == field
        assert refused.value.zh.startswith({"branch": "机构", "reason": "原因", "product_type": "险种"}[field])
    for who in (Actor.of("王芳", ["branch"], ["110100"]), Actor.of("合规李", ["compliance"]), Actor.of("管理员", ["admin"])):
        with pytest.raises(NotAllowed):
            _pause(bench, branch="120100", actor=who)
        with pytest.raises(NotAllowed):
            _resume(bench, branch="110100", actor=who)
    with bench.sessions() as s:
        assert [(p.branch, p.by) for p in controls.pauses_in_force(s)] == [("110100", "张总")]
        assert s.query(AuditEvent).count() == 1


def test_each_dialer_reports_its_ticks_and_goes_stale_when_silent(bench: Bench) -> None:
    _world(bench)
    looping, once = bench.dialer("host:1"), bench.dialer("host:2")
    looping.ticks_every_s = 5
    assert looping.tick().placed == 4
    bench.clock.advance(timedelta(seconds=10))
    _pause(bench)
    looping.tick()
    once.tick()
    bench.clock.advance(timedelta(seconds=15))
    with bench.sessions() as s:
        view = status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(), stale_after_ticks=3)
    assert view.as_json()["paused"][0]["branch"] is None
    dialers = {d["name"]: d for d in view.as_json()["dialers"]}
    assert dialers["host:1"] == {"name": "host:1", "last_tick": "2026-11-25T10:00:10+08:00", "in_flight": 4,
                                 "stale": False, "backoff_until": None, "cps": round(4 / 60, 3), "cps_limit": 1.0,
                                 "placed_last_tick": 0, "ticks_every_s": 5, "started_at": "2026-11-25T10:00:00+08:00"}
    assert (dialers["host:2"]["in_flight"], dialers["host:2"]["stale"]) == (0, False)  # a one-off run: never stale
    bench.clock.advance(timedelta(seconds=1))  # 16 s > 3 × 5 s without a tick
    with bench.sessions() as s:
        view = status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(), stale_after_ticks=3)
    assert {d.name: d.stale for d in view.dialers} == {"host:1": True, "host:2": False}
    bench.clock.advance(timedelta(seconds=45))
    assert looping.cps() == 0.0  # the placements are more than a minute old
    bench.clock.advance(timedelta(days=1))
    with bench.sessions() as s:  # a day without a tick: no longer listed
        assert status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(),
                      stale_after_ticks=3).dialers == []
    bench.dialer("host:3").tick()  # a dialer starting removes them
    with bench.sessions() as s:
        assert [row.name for row in s.scalars(select(DialerHeartbeat))] == ["host:3"]
    with pytest.raises(NotAllowed), bench.sessions() as s:
        status(s, Actor.of("王芳", ["branch"], ["110100"]), now=bench.clock.now(), today=bench.clock.now().date(),
               stale_after_ticks=3)


def test_a_dialer_backing_off_says_until_when(bench: Bench) -> None:
    from dialer.telephony import PlacementError, PlacementProblem

    _world(bench)
    bench.provider.errors = [PlacementError(PlacementProblem.RATE_LIMITED, "Twilio 20429", 20429)]
    bench.dialer().tick()
    with bench.sessions() as s:
        view = status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(), stale_after_ticks=3)
    assert view.as_json()["dialers"][0]["backoff_until"] == "2026-11-25T10:00:30+08:00"
    assert (view.due, view.due_paused) == (4, 0)


def test_the_due_backlog_by_hour_of_today(bench: Bench) -> None:
    _world(bench)
    bench.update("BT", next_attempt_at=local("2026-11-25T14:30:00"))
    bench.update("BH", appointment_at=local("2026-11-25T09:15:00"))
    bench.update("TT", next_attempt_at=local("2026-11-26T09:00:00"))  # tomorrow: not today's
    _pause(bench, branch="120100")
    with bench.sessions() as s:
        backlog = backlog_by_hour(s, SUPERVISOR, local("2026-11-25T00:00:00").date())
        view = status(s, SUPERVISOR, now=bench.clock.now(), today=bench.clock.now().date(), stale_after_ticks=3)
    assert backlog.at_start == 1  # TH: due all day
    assert {h: n for h, n in enumerate(backlog.hours) if n} == {9: 1, 14: 1}
    assert backlog.total == 3
    assert (view.due, view.due_paused) == (2, 1)  # at 10:00: TH and BH; TH is Tianjin's
