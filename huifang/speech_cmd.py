"""`huifang speech recognize | check-model` and `huifang prompts render`: check a model and a prompt set by hand."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from flows.library import load_library
from flows.prompts import static_texts
from huifang.app import App
from huifang.flows_cmd import flows_path
from huifang.output import emit_json
from huifang.speech_wiring import build_prompt_cache, build_recognizer
from speech.asr import ModelError
from speech.audio import AudioError, read_wav
from speech.lexicon import LexiconError, load_lexicon
from speech.modelcheck import check_model
from speech.tts import TtsUnavailable

SPEECH_ERRORS = (ModelError, AudioError, LexiconError, TtsUnavailable)


@click.group("speech")
def speech_group() -> None:
    """Offline speech recognition."""


@speech_group.command("recognize")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", "language", default=None, help="zh-CN or ko-KR (default: speech.language).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def speech_recognize(app: App, file: Path, language: str | None, as_json: bool) -> None:
    """Recognise one answer in a WAV file (PCM or μ-law, any rate) with the configured model."""
    if not file.is_file():
        raise click.ClickException(f"{file}: no such file")
    try:
        audio = read_wav(file.read_bytes())
        result = build_recognizer(app.settings.speech, language).recognize(audio)
    except AudioError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except SPEECH_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"{result.intent} (confidence {result.confidence:.2f}) heard: {result.text or '—'}")


@click.group("prompts")
def prompts_group() -> None:
    """Prompt audio."""


@prompts_group.command("render")
@click.option("--flow", "flow_id", default=None, help="Only this flow (default: every valid flow).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def prompts_render(app: App, flow_id: str | None, as_json: bool) -> None:
    """Render every static prompt of the configured flows into the prompt cache."""
    library = load_library(flows_path(app))
    flows = list(library.flows.values())
    if flow_id is not None:
        if flow_id not in library.flows:
            known = ", ".join(sorted(library.flows)) or "none"
            raise click.ClickException(f"--flow {flow_id!r}: no valid flow with that id (valid: {known})")
        flows = [library.flows[flow_id]]
    questionnaire = app.settings.questionnaire
    cache = build_prompt_cache(app.settings.speech)
    rendered = cached = 0
    seen: set[tuple[str, str]] = set()
    try:
        for flow in flows:
            for text in static_texts(flow, library.messages[flow.language], questionnaire.company_name,
                                     questionnaire.hotline):
                if (text, flow.language) in seen:
                    continue
                seen.add((text, flow.language))
                if cache.get(text, flow.language).rendered:
                    rendered += 1
                else:
                    cached += 1
    except TtsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"rendered": rendered, "cached": cached})
    else:
        click.echo(f"{rendered} prompts rendered, {cached} already cached, in {cache.root}")


BENCH = Path(__file__).resolve().parents[1] / "bench" / "asr.py"  # in a checkout; not in an installed package


def _bench(model_dir: Path, language: str, quick: bool) -> dict[str, Any]:
    """bench/asr.py on the model (a subprocess: its own memory, its JSON on stdout)."""
    if not BENCH.is_file():
        return {"skipped": f"{BENCH} not found: run check-model from a checkout to benchmark the model"}
    args = [sys.executable, str(BENCH), "--model", str(model_dir), "--lang", language, *(["--quick"] if quick else [])]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(BENCH.parents[1])},
                          check=False)
    if done.returncode != 0:
        return {"failed": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@speech_group.command("check-model")
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", "language", default=None, help="the lexicon's language (default: speech.language).")
@click.option("--bench/--no-bench", default=True, show_default=True, help="run bench/asr.py on the model too")
@click.option("--quick", is_flag=True, help="the bench at one rate and pitch (about a minute)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def speech_check_model(app: App, model_dir: Path, language: str | None, bench: bool, quick: bool,
                       as_json: bool) -> None:
    """Check a production Vosk model before go-live: complete, runtime graph, sample rate, every lexicon phrase
    in its vocabulary, [unk]; then its accuracy and speed on labelled audio (bench/asr.py). Exit 1 when a
    problem stops go-live."""
    speech = app.settings.speech
    lang = language or speech.language
    try:
        lexicon = load_lexicon(lang, Path(speech.lexicon_dir) if speech.lexicon_dir else None)
        report = check_model(model_dir, lexicon)
    except SPEECH_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    if bench and report.ok:
        report = dataclasses.replace(report, bench=_bench(model_dir, lang, quick))
    elif not bench:
        report = dataclasses.replace(report, bench={"skipped": "--no-bench"})
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"{model_dir}: {'ok' if report.ok else 'NOT READY'} · {report.sample_rate} Hz · runtime graph "
                   f"{'yes' if report.runtime_graph else 'no'} · [unk] {'yes' if report.unk else 'no'}")
        for line in [*report.problems, *(f"warning: {w}" for w in report.warnings)]:
            click.echo(f"  {line}")
    if not report.ok:
        raise SystemExit(1)
