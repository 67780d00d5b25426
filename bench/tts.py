"""TTS benchmark: render time per prompt, cold and cached, and concurrent rendering.

    .venv/bin/python bench/tts.py

Prints one JSON object: per-prompt render time (cold: espeak-ng runs; cached: a file lookup), the
static prompt set of the shipped flows, and throughput of 4 threads sharing the lock versus 2 processes.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.library import load_library  # noqa: E402
from flows.prompts import static_texts  # noqa: E402
from speech.cache import PromptCache  # noqa: E402
from speech.tts import EspeakTts  # noqa: E402


def texts() -> list[str]:
    library = load_library()
    out: list[str] = []
    for flow in library.flows.values():
        out += static_texts(flow, library.messages[flow.language], "汇方人寿", "4000-123-456")
    return list(dict.fromkeys(out))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _render_in_process(text: str) -> int:
    return len(_process_tts().render(text, "zh-CN").samples)


_TTS: EspeakTts | None = None


def _process_tts() -> EspeakTts:
    global _TTS
    if _TTS is None:
        _TTS = EspeakTts()
    return _TTS


def main() -> None:
    prompts = texts()
    tts = EspeakTts()
    started = time.perf_counter()
    tts.render("。", "zh-CN")
    first_load = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as root:
        cache = PromptCache(Path(root), tts)
        cold, warm, audio_seconds = [], [], 0.0
        for text in prompts:
            t0 = time.perf_counter()
            entry = cache.get(text, "zh-CN")
            cold.append(time.perf_counter() - t0)
            audio_seconds += entry.path.stat().st_size / 16000
        for text in prompts:
            t0 = time.perf_counter()
            assert not cache.get(text, "zh-CN").rendered
            warm.append(time.perf_counter() - t0)

    serial_started = time.perf_counter()
    for text in prompts:
        tts.render(text, "zh-CN")
    serial = time.perf_counter() - serial_started

    threads = [threading.Thread(target=lambda chunk=prompts[i::4]: [tts.render(t, "zh-CN") for t in chunk])
               for i in range(4)]
    threaded_started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    threaded = time.perf_counter() - threaded_started

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_render_in_process, ["。", "。"])
        process_started = time.perf_counter()
        pool.map(_render_in_process, prompts, chunksize=2)
        processes = time.perf_counter() - process_started

    report = {
        "prompts": len(prompts),
        "audio_seconds": round(audio_seconds, 1),
        "engine_start_s": round(first_load, 3),
        "cold_ms": {"p50": round(percentile(cold, 0.5) * 1000, 1), "p99": round(percentile(cold, 0.99) * 1000, 1),
                    "total_s": round(sum(cold), 2)},
        "cached_ms": {"p50": round(percentile(warm, 0.5) * 1000, 3), "p99": round(percentile(warm, 0.99) * 1000, 3)},
        "prompts_per_s": {"serial": round(len(prompts) / serial, 1), "4_threads_one_lock": round(len(prompts) / threaded, 1),
                          "2_processes": round(len(prompts) / processes, 1)},
    }
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
