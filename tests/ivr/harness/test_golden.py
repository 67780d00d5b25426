"""Golden end-to-end scenarios (golden/*.yaml): a policy and a persona in; after a campaign on the virtual
clock (the real dialer, the real webhooks), the task's result, reason codes, cases, attempts, calls and
recordings must be exactly the ones the file expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from ivr.harness.campaign import Cast, run_campaign
from ivr.harness.local import LocalHarness
from ivr.harness.persona import persona_from
from speech.cache import PromptCache
from storage.models import Call, CallbackTask, Case, Recording
from tests.dialer.conftest import local
from tests.factories import policy_row
from tests.ivr.conftest import build_ivr, text_mode_harness

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.yaml"))


@pytest.mark.parametrize("scenario", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_scenario(scenario: Path, engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> None:
    spec = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    ivr = build_ivr(engine, tmp_path, prompt_cache, row=policy_row(**spec.get("policy", {})))
    harness = text_mode_harness(ivr)
    for name, value in (spec.get("faults") or {}).items():
        assert hasattr(harness.simulator, name), f"{scenario.name}: unknown fault {name}"
        setattr(harness.simulator, name, value)
    cast = Cast({"default": persona_from(spec.get("persona") or {}, scenario.name)}, {})
    run_campaign(harness, cast, local("2026-11-25T09:00:00"), days=spec.get("days", 15))
    assert outcome(harness) == spec["expect"]


def outcome(harness: LocalHarness) -> dict[str, Any]:
    with harness.services.sessions() as session:
        task = session.scalars(select(CallbackTask)).one()
        return {
            "task_status": task.status.value,
            "result_class": task.result_class.value if task.result_class else None,
            "reason_codes": list(task.reason_codes or []),
            "cases": [c.type.value for c in session.scalars(select(Case).order_by(Case.id))],
            "attempts": task.attempts,
            "calls": len(list(session.scalars(select(Call)))),
            "recordings": [r.status.value for r in session.scalars(select(Recording).order_by(Recording.id))],
        }
