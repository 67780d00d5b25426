"""A campaign on the virtual clock: the real dialer and the real webhooks, personas for the callees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from flows.vocab import ResultClass
from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.campaign import Cast, load_cast, run_campaign
from ivr.harness.local import LocalHarness
from ivr.harness.persona import PersonaError, persona_from
from kit.vocab import TaskStatus
from speech.cache import PromptCache
from storage.db import units_of_work
from storage.models import Call, CallbackTask, Case, Policy, Recording, SmsOutbox
from tests.dialer.conftest import local
from tests.factories import policy_row, write_csv
from tests.ivr.conftest import build_ivr, text_mode_harness

CAST = Cast(
    personas={
        "good": persona_from({}, "good"),
        "doubter": persona_from({"answers": {"default": "yes", "understand_coverage": "no-then-yes"}}, "doubter"),
        "never": persona_from({"pickup": "busy"}, "never"),
        "late_pickup": persona_from({"pickup": ["no-answer", "machine", "human"]}, "late_pickup"),
        "invalid": persona_from({"pickup": "invalid-number"}, "invalid"),
        "stranger": persona_from({"identity": "wrong"}, "stranger"),
    },
    assign={"C1": "doubter", "C2": "never", "C3": "late_pickup", "C4": "invalid", "C5": "stranger",
            "default": "good"},
)


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> LocalHarness:
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(policy_no="C0"))
    path = write_csv(tmp_path / "more.csv", [policy_row(policy_no=f"C{i}") for i in range(1, 6)])
    PolicyIntake(units_of_work(ivr.svc.sessions), settings=ivr.svc.settings, calendar=ivr.svc.calendar,
                 clock=ivr.svc.clock).run(open_table(path))
    return text_mode_harness(ivr)


def _tasks(harness: LocalHarness) -> dict[str, CallbackTask]:
    with harness.services.sessions() as session:
        return {no: task for task, no in session.execute(select(CallbackTask, Policy.policy_no).join(Policy))}


def test_a_campaign_reaches_every_outcome_on_the_virtual_clock(harness: LocalHarness) -> None:
    summary = run_campaign(harness, CAST, local("2026-11-25T09:00:00"), days=15)
    tasks = _tasks(harness)
    assert tasks["C0"].result_class is not None
    assert tasks["C0"].result_class.value == "standard"
    assert tasks["C1"].result_class is not None
    assert tasks["C1"].result_class.value == "sub_standard"
    assert (tasks["C2"].status, tasks["C2"].reason_codes, tasks["C2"].attempts) == (
        TaskStatus.COMPLETED, ["unreachable"], 3)
    assert (tasks["C3"].attempts, tasks["C3"].result_class is not None) == (3, True)  # no answer, machine, human
    assert tasks["C4"].status is TaskStatus.HELD
    assert tasks["C5"].reason_codes == ["identity_failed"]
    assert summary["results"] == {"standard": 2, "sub_standard": 1, "verification": 2}
    assert summary["cases"] == {"verification_case": 3}  # unreachable, wrong number, identity failed
    assert summary["late"] == 0
    assert summary["calls"] == 1 + 1 + 3 + 3 + 1
    with harness.services.sessions() as session:
        assert session.query(Recording).filter_by(status="stored").count() == 1 + 1 + 2 + 1  # answered calls


def test_a_personas_file_names_its_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "cast.yaml"
    path.write_text("personas:\n  good: {}\nassign:\n  P1: missing\n", encoding="utf-8")
    with pytest.raises(PersonaError, match=r"assign.P1: no persona named 'missing'"):
        load_cast(path)
    path.write_text("personas:\n  odd:\n    mode: telepathy\n", encoding="utf-8")
    with pytest.raises(PersonaError, match=r"personas.odd.mode: 'telepathy' is not one of text, dtmf, audio"):
        load_cast(path)


def test_queued_calls_start_at_the_accounts_calls_per_second(harness: LocalHarness) -> None:
    from datetime import timedelta

    from storage.models import Call

    run_campaign(harness, CAST, local("2026-11-25T09:00:00"), days=1)
    with harness.services.sessions() as session:
        started = sorted(at for at, in session.execute(select(Call.started_at)) if at is not None)
    first_tick = [at for at in started if at - started[0] < timedelta(minutes=1)]  # placed by one dialer tick
    assert len(first_tick) == 5  # six policies, one of them an invalid number that Twilio refuses at once
    cps = harness.services.settings.dialer.calls_per_second
    assert cps > 0
    gaps = {(later - earlier).total_seconds() for earlier, later in zip(first_tick, first_tick[1:], strict=False)}
    assert gaps == {1 / cps}


def test_campaigns_run_one_after_another_on_one_database_never_reuse_a_sid(engine: Engine, tmp_path: Path,
                                                                             prompt_cache: PromptCache) -> None:
    """Each run builds its harness afresh, as each `huifang simulate campaign` process does. Its calls and
    recordings get SIDs no earlier run used (they restarted at CS…0001 and RE…0001: the second run's calls
    were taken for the first run's, delivered again)."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(policy_no="C0"))

    def load(policy_no: str) -> None:
        path = write_csv(tmp_path / f"{policy_no}.csv", [policy_row(policy_no=policy_no)])
        PolicyIntake(units_of_work(ivr.svc.sessions), settings=ivr.svc.settings, calendar=ivr.svc.calendar,
                     clock=ivr.svc.clock).run(open_table(path))

    load("C2")
    first = run_campaign(text_mode_harness(ivr), CAST, local("2026-11-25T09:00:00"), days=1)
    load("C1")  # answered in the second run only: its recording is that run's first
    later = text_mode_harness(ivr)
    second = run_campaign(later, CAST, local("2026-11-26T09:00:00"), days=14)
    with ivr.svc.sessions() as session:
        calls = session.execute(select(Call.call_sid, Call.id, Call.answered_at)).all()
        recordings = session.execute(select(Recording.recording_sid, Recording.call_id)).all()
    assert len({sid for sid, _, _ in calls}) == len(calls) == first["calls"] + second["calls"]
    assert all(re.fullmatch(r"CA[0-9a-f]{32}", sid) for sid, _, _ in calls)
    assert sorted(call_id for _, call_id in recordings) == sorted(i for _, i, answered in calls if answered)
    assert all(re.fullmatch(r"RE[0-9a-f]{32}", sid) for sid, _ in recordings)
    tasks = _tasks(later)
    assert [(tasks[no].result_class, tasks[no].reason_codes, tasks[no].attempts) for no in ("C0", "C1", "C2")] == [
        (ResultClass.STANDARD, [], 1), (ResultClass.SUB_STANDARD, ["unclear_coverage"], 1),
        (ResultClass.VERIFICATION, ["unreachable"], 3)]


def test_a_callee_never_reached_gets_the_e_callback_link_then_a_letter(engine: Engine, tmp_path: Path,
                                                                       prompt_cache: PromptCache) -> None:
    """The default channels (phone → e-callback → letter) on the virtual clock: after the phone attempts the
    daily job texts the link (kept in the simulated outbox), and when it stays unanswered for
    channels.ecallback_wait_days working days the callback moves to a letter and the branch gets its case."""
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(policy_no="E1"), channels=None)
    harness = text_mode_harness(ivr)
    cast = Cast(personas={"never": persona_from({"pickup": "busy"}, "never")}, assign={"default": "never"})
    run_campaign(harness, cast, local("2026-11-25T09:00:00"), days=15)
    task = _tasks(harness)["E1"]
    assert (task.channel.value, task.status, task.result_class) == ("letter", TaskStatus.COMPLETED,
                                                                    ResultClass.VERIFICATION)
    with harness.services.sessions() as session:
        texts = session.scalars(select(SmsOutbox.body)).all()
        cases = session.scalars(select(Case.type)).all()
    assert len(texts) == 1
    assert "/e/" in texts[0]
    assert [str(c) for c in cases] == ["letter_case"]
