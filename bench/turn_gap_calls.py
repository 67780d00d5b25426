"""Turn-gap benchmark, part 2: record vs stream turn gaps through the simulated call harness (issue 18).

Each persona (audio mode: espeak-ng speaks the answers, the Vosk model hears them) calls several times with
`record` capture and again with `stream` capture, as `huifang simulate call --capture record|stream` runs a call:
the Korean test flow (tests/ivr/harness/ko_flows), SQLite in a temporary directory, the app's own wiring
(huifang.simulate_cmd.harness_for; streamed: the server's default decode slots). A turn gap is the end of the
caller's speech → the next prompt starts, as each call's summary reports it (`turn_gaps`), Twilio's REST/webhook
round trip counted as `latency_ms`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.stream_load import percentile
from huifang.app import App
from huifang.config import load_settings
from huifang.simulate_cmd import harness_for
from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.harness.local import LocalHarness
from ivr.harness.persona import Persona, persona_from
from kit.clock import FrozenClock
from storage import migrate
from storage.db import units_of_work
from tests.factories import policy_row, write_csv

ROOT = Path(__file__).resolve().parents[1]
KO_FLOWS = ROOT / "tests" / "ivr" / "harness" / "ko_flows"
NOW = "2026-11-25T10:00:00+08:00"  # inside calling hours, after the test policies' receipt
CAPTURES = ("record", "stream")


@dataclass(frozen=True)
class GapPersona:
    name: str
    persona: dict[str, Any]
    barge_in_ms: int = 0  # stream: the callee starts answering this long before the prompt ends


PERSONAS = (
    GapPersona("all_yes", {"mode": "audio"}),
    GapPersona("no_then_yes", {"mode": "audio", "answers": {"default": "yes", "understand_coverage": "no-then-yes"}}),
    GapPersona("barge_in", {"mode": "audio"}, barge_in_ms=1000),
)


def _stats(values: list[float]) -> dict[str, Any]:
    return {"turns": len(values), "p50_ms": round(percentile(values, 0.5), 1),
            "p95_ms": round(percentile(values, 0.95), 1), "max_ms": round(max(values), 1) if values else 0.0}


@contextmanager
def simulation_app(workdir: Path, model: str, language: str, policies: int) -> Iterator[tuple[App, list[str]]]:
    """The app as `huifang simulate call` builds it, on a fresh SQLite database holding `policies` policies of
    the Korean test flow's product, each with a queued callback task; yields it with their numbers."""
    environ = {"HUIFANG_DATABASE_URL": f"sqlite:///{workdir / 'turn_gap.db'}",
               "HUIFANG__SPEECH__PROMPT_CACHE_DIR": json.dumps(str(workdir / "prompts")),
               "HUIFANG__RECORDINGS__ROOT": json.dumps(str(workdir / "recordings")),
               "HUIFANG__QUESTIONNAIRE__FLOWS_PATH": json.dumps(str(KO_FLOWS)),
               "HUIFANG__SPEECH__LANGUAGE": json.dumps(language),
               "HUIFANG__SPEECH__VOSK_MODEL_PATH": json.dumps(model)}
    app = App(settings=load_settings(environ=environ), clock=FrozenClock(datetime.fromisoformat(NOW)))
    try:
        migrate.upgrade(app.engine)
        rows = [policy_row() for _ in range(policies)]
        PolicyIntake(units_of_work(app.sessions), settings=app.settings, calendar=app.calendar,
                     clock=app.clock).run(open_table(write_csv(workdir / "policies.csv", rows)))
        yield app, [row["policy_no"] for row in rows]
    finally:
        app.close()


def _one_call(harness: LocalHarness, policy_no: str, persona: Persona, spec: GapPersona,
              capture: str) -> dict[str, Any]:
    harness.simulator.stream_options.barge_in_ms = spec.barge_in_ms if capture == "stream" else 0
    began = time.perf_counter()
    result = harness.call(policy_no, persona)
    log = harness.last_log
    assert log is not None
    gaps = []
    for gap in result["turn_gaps"]:
        moved = log.moved_ms.get(gap["seq"]) if gap["capture"] == "stream" else None
        prompt_end = log.prompt_end_ms.get(gap["seq"]) if gap["capture"] == "stream" else None
        gaps.append({**gap, "moved_after_speech_ms": None if moved is None else moved - gap["speech_end_ms"],
                     "moved_before_prompt_end_ms": None if moved is None or prompt_end is None
                     else prompt_end - moved})
    return {"persona": spec.name, "capture": capture, "call_capture": result["capture"],
            "result_class": result["result_class"], "answers": result["answers"], "gaps": gaps,
            "wall_s": round(time.perf_counter() - began, 2)}


def run_calls(app: App, policies: list[str], calls: int, latency_ms: int) -> tuple[list[dict[str, Any]], int]:
    """Every persona `calls` times per capture, each call on a policy of its own; (the calls, the stream
    app's decode slots)."""
    done: list[dict[str, Any]] = []
    slots = 0
    numbers = iter(policies)
    for capture in CAPTURES:
        _, harness = harness_for(app, real_prompts=True, audio=True, capture=capture)
        if capture == "stream":  # as huifang.web.build_streams wires them
            slots = app.settings.ivr.stream_decode_slots or len(os.sched_getaffinity(0))
        harness.rest_latency_ms = harness.simulator.stream_options.rest_latency_ms = latency_ms
        try:
            for spec in PERSONAS:
                persona = persona_from(spec.persona, spec.name)
                for number in range(calls):
                    print(f"turn gaps: {capture} {spec.name} call {number + 1}/{calls}", file=sys.stderr)
                    done.append(_one_call(harness, next(numbers), persona, spec, capture))
        finally:
            harness.close()
    return done, slots


def summarise(done: list[dict[str, Any]], latency_ms: int) -> dict[str, Any]:
    """Per capture p50/p95/max, the record/stream ratio, and the barge-in persona's streamed turns."""
    by_capture: dict[str, dict[str, Any]] = {}
    for capture in CAPTURES:
        gaps = [g["gap_ms"] for call in done if call["capture"] == capture for g in call["gaps"]
                if g["capture"] == capture]
        by_capture[capture] = {**_stats(gaps), "calls": sum(1 for call in done if call["capture"] == capture),
                               "fallback_turns": sum(1 for call in done if call["capture"] == capture
                                                     for g in call["gaps"] if g["capture"] != capture)}
    record, stream = by_capture["record"], by_capture["stream"]
    barged = [g for call in done if call["capture"] == "stream" and call["persona"] == "barge_in"
              for g in call["gaps"] if g["capture"] == "stream"]
    moved = [float(g["moved_after_speech_ms"]) for g in barged if g["moved_after_speech_ms"] is not None]
    margins = [float(g["moved_before_prompt_end_ms"]) for g in barged if g["moved_before_prompt_end_ms"] is not None]
    per_persona: dict[str, dict[str, Any]] = {}
    for spec in PERSONAS:
        mine = [call for call in done if call["persona"] == spec.name]
        per_persona[spec.name] = {
            capture: {**_stats([g["gap_ms"] for call in mine if call["capture"] == capture for g in call["gaps"]]),
                      "result_classes": sorted({str(call["result_class"]) for call in mine
                                                if call["capture"] == capture})}
            for capture in CAPTURES}
        answers = {capture: [call["answers"] for call in mine if call["capture"] == capture] for capture in CAPTURES}
        per_persona[spec.name]["same_answers"] = answers["record"] == answers["stream"]
    return {
        "latency_ms": latency_ms, "personas": [dataclasses.asdict(spec) for spec in PERSONAS],
        "record": record, "stream": stream,
        "ratio_p50": round(record["p50_ms"] / stream["p50_ms"], 2) if stream["p50_ms"] else None,
        "ratio_p95": round(record["p95_ms"] / stream["p95_ms"], 2) if stream["p95_ms"] else None,
        "barge_in": {"barge_in_ms": PERSONAS[2].barge_in_ms, **_stats([float(g["gap_ms"]) for g in barged]),
                     "moved_after_speech_ms_p50": round(percentile(moved, 0.5), 1),
                     "moved_after_speech_ms_max": round(max(moved), 1) if moved else 0.0,
                     "moved_before_prompt_end": sum(1 for g in barged if g["barge_in"]),
                     "moved_before_prompt_end_ms_min": round(min(margins), 1) if margins else None},
        "per_persona": per_persona,
        "call_wall_s": {capture: round(sum(call["wall_s"] for call in done if call["capture"] == capture), 1)
                        for capture in CAPTURES},
    }


def turn_gaps(model: str, language: str, calls: int, latency_ms: int) -> dict[str, Any]:
    """Record vs stream turn gaps: every persona `calls` times per capture (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="huifang-turn-gap-") as workdir, \
            simulation_app(Path(workdir), model, language, 2 * len(PERSONAS) * calls) as (app, policies):
        done, slots = run_calls(app, policies, calls, latency_ms)
    return {**summarise(done, latency_ms), "calls_per_persona": calls, "stream_decode_slots": slots}
