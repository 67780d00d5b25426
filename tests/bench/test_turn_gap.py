"""bench/turn_gap.py: Twilio-shaped messages, and a --quick smoke run of the whole bench."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.stream_load import PROMPT_S, make_calls, media, start

ROOT = Path(__file__).resolve().parents[2]


def test_media_messages_are_shaped_like_twilios() -> None:
    message = json.loads(media("MZ1", 3, base64.b64encode(b"\xff" * 160).decode()))
    assert message["event"] == "media"
    assert message["sequenceNumber"] == "5"  # connected carries none, start is 1, frame 0 is 2
    assert message["media"] == {"track": "inbound", "chunk": "4", "timestamp": "60",
                                "payload": base64.b64encode(b"\xff" * 160).decode()}
    opened = json.loads(start("CA1", "MZ1"))["start"]
    assert opened["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert opened["customParameters"]["token"]


def test_a_call_is_prompts_answers_and_whole_frames() -> None:
    (call,) = make_calls(1, questions=2)
    assert {len(base64.b64decode(p)) for p in call.payloads} == {160}
    assert call.questions[0] == 0
    first_end = call.speech_end_ms[0]
    assert PROMPT_S * 1000 < first_end < call.questions[1] * 20  # the answer ends before the next prompt
    assert len(call.answers) == 2


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="pins a process to one core (Linux)")
def test_quick_run_reports_positive_numbers() -> None:
    """--quick: about 25 s (the model loads four times; one paced step runs 6 s of stream in a pinned process;
    one call per persona and capture through the harness)."""
    done = subprocess.run([sys.executable, "bench/turn_gap.py", "--quick", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"per_stream", "decision_latency", "concurrency", "turn_gaps", "call_pattern",
                           "loadavg_before", "loadavg_after"}
    single = report["per_stream"]
    assert single["answered"] == single["correct"] == single["questions"] > 0
    assert 0 < single["rtf_frames"] < single["rtf"] < 1
    assert 0 < single["rtf_recognition"] < single["rtf"]
    latency = report["decision_latency"]
    assert latency["answers"] == single["answered"]
    assert latency["endpoint_ms_p50"] >= 350  # at least the end silence
    assert 0 < latency["decode_ms_p50"] <= latency["decode_ms_p95"] < latency["stream_gap_ms_p95"]
    (step,) = report["concurrency"]["steps"]
    assert step["streams"] == 3
    assert step["fallbacks"] == 0
    assert step["decisions"] > 0
    assert 0 < step["cpu_utilisation"] <= 1.05
    assert step["lag_ms_max"] > 0
    assert 0 < step["decode_ms_p50"] <= step["decode_ms_p95"]
    assert step["turn_gap_ms_p50"] > report["concurrency"]["rest_ms"]
    assert report["concurrency"]["streams_per_core"] in (0, 3)
    # the server's default decode slots: one per core the process may use, and it is pinned to one
    assert (report["concurrency"]["decode_slots"], report["concurrency"]["decode_slots_from"]) == (1, "server_default")
    assert step["decode_slots"] == 1
    gaps = report["turn_gaps"]
    assert gaps["latency_ms"] == 250
    assert gaps["calls_per_persona"] == 1
    record, stream = gaps["record"], gaps["stream"]
    assert record["calls"] == stream["calls"] == 3  # all-yes, no-then-yes, barge-in
    assert record["turns"] >= 3 * 8
    assert stream["turns"] >= 3 * 8
    assert 0 < stream["p50_ms"] <= stream["p95_ms"] <= stream["max_ms"]
    assert 0 < record["p50_ms"] <= record["p95_ms"] <= record["max_ms"]
    assert stream["p50_ms"] < record["p50_ms"]
    assert gaps["ratio_p50"] == round(record["p50_ms"] / stream["p50_ms"], 2)
    assert gaps["ratio_p50"] > 1
    barge = gaps["barge_in"]
    assert barge["turns"] >= 8
    assert 0 < barge["p50_ms"] <= barge["max_ms"]
    assert 0 < barge["moved_after_speech_ms_p50"]
    assert 0 <= barge["moved_before_prompt_end"] <= barge["turns"]
    assert all(persona["same_answers"] for persona in gaps["per_persona"].values())
