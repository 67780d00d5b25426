"""`huifang speech recognize` and `huifang prompts render`: check a model and a prompt set by hand."""

from __future__ import annotations

from pathlib import Path

import click

from flows.library import load_library
from flows.prompts import static_texts
from huifang.app import App
from huifang.flows_cmd import flows_path
from huifang.output import emit_json
from huifang.speech_wiring import build_prompt_cache, build_recognizer
from speech.asr import ModelError
from speech.audio import AudioError, read_wav
from speech.lexicon import LexiconError
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
