"""`huifang simulate call`: one call through the real webhooks, Twilio and the callee simulated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from huifang.app import App
from huifang.output import emit_json, emit_table
from ivr.harness.local import LocalHarness
from ivr.harness.persona import MODES, PersonaError, load_persona

SIMULATED_ACCOUNT = "AC" + "5" * 32
SIMULATED_TOKEN = "simulated-auth-token"
CAPTURES = ("record", "stream")


@click.group("simulate")
def simulate_group() -> None:
    """Simulated calls: test a flow with a persona without a phone line (use a test database)."""


def simulated(app: App) -> App:
    """The app with a virtual clock (from HUIFANG_NOW or now) and simulation credentials if none are set.
    Recordings are stored inside their callback (recordings.download_threads = 0): on a virtual clock the next
    tick comes at once, where a deployment's download pool has had seconds to store them."""
    from kit.clock import FrozenClock

    settings = dataclasses.replace(app.settings, recordings=dataclasses.replace(app.settings.recordings,
                                                                                download_threads=0))
    if not settings.twilio.auth_token:
        settings = dataclasses.replace(settings, twilio=dataclasses.replace(
            settings.twilio, account_sid=SIMULATED_ACCOUNT, auth_token=SIMULATED_TOKEN))
    return App(settings=settings, clock=FrozenClock(app.clock.now()))


@simulate_group.command("call")
@click.option("--policy", "policy_no", required=True)
@click.option("--persona", "persona_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(MODES), default=None, help="Overrides the persona's mode.")
@click.option("--capture", type=click.Choice(CAPTURES), default=None,
              help="Capture strategy for the simulated call (default: ivr.capture).")
@click.option("--barge-in-ms", type=click.IntRange(0, 10_000), default=0, show_default=True,
              help="stream: the callee answers this long before the prompt ends.")
@click.option("--rest-latency-ms", type=click.IntRange(0, 10_000), default=250, show_default=True,
              help="Twilio's REST round trip, counted in turn gaps (and in stream time).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def simulate_call(app: App, policy_no: str, persona_path: Path, mode: str | None, capture: str | None,
                  barge_in_ms: int, rest_latency_ms: int, as_json: bool) -> None:
    """Run one call of POLICY's callback task with the persona as the callee; print the transcript and result."""
    try:
        persona = load_persona(persona_path)
    except PersonaError as exc:
        raise click.ClickException(str(exc)) from None
    if mode:
        persona = dataclasses.replace(persona, mode=mode)
    capture = capture or app.settings.ivr.capture
    if capture == "stream" and persona.mode not in ("audio", "dtmf"):
        raise click.ClickException(f"--capture stream needs --mode audio or dtmf (the callee speaks or presses keys "
                                   f"on the stream), not {persona.mode}")
    _, harness = harness_for(app, real_prompts=True, audio=persona.mode == "audio", capture=capture)
    harness.rest_latency_ms = harness.simulator.stream_options.rest_latency_ms = rest_latency_ms
    harness.simulator.stream_options.barge_in_ms = barge_in_ms
    try:
        result = harness.call(policy_no, persona)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        harness.close()
    if as_json:
        emit_json(result)
        return
    emit_table(["who", "topic", "text", "digits"],
               [(t["who"], t["topic"] or "", t["text"], t["digits"]) for t in result["transcript"]])
    click.echo()
    click.echo(f"{result['call_sid']}: {result['outcome']}, result {result['result_class']}, "
               f"reasons {', '.join(result['reason_codes']) or '-'}, cases "
               f"{', '.join(c['type'] for c in result['cases']) or '-'}")


def harness_for(app: App, real_prompts: bool, audio: bool = False,
                capture: str | None = None) -> tuple[App, LocalHarness]:
    """The app under simulation and its harness. Audio mode: the configured Vosk model hears answers that
    espeak-ng speaks in speech.language; otherwise recognition results are handed in. `capture` stream: the app
    is also served on a loopback socket for the Media Streams WebSocket (webhooks stay on the test client), and
    the configured model decides the streamed answers."""
    from huifang.speech_wiring import build_tts
    from huifang.web import build_services
    from ivr.app import create_app
    from ivr.harness.media import InjectedRecognizer, SilentRenderer
    from ivr.harness.voice import SpokenAnswers
    from speech.lexicon import load_lexicon

    sim = simulated(app)
    stream = capture == "stream"
    if capture:
        sim = App(settings=dataclasses.replace(sim.settings, ivr=dataclasses.replace(sim.settings.ivr, capture=capture)),
                  clock=sim.clock)
    if audio and not sim.settings.speech.vosk_model_path:
        raise click.ClickException("--mode audio needs a Vosk model: set speech.vosk_model_path")
    if stream and not sim.settings.speech.vosk_model_path:
        raise click.ClickException("--capture stream needs a Vosk model: set speech.vosk_model_path")
    injected = InjectedRecognizer()
    services = build_services(sim, recognizer=None if audio or stream else injected,
                              renderer=None if real_prompts else SilentRenderer())
    harness = LocalHarness.build(services, create_app(services), injected)
    if stream:
        harness.serve_streams()
    if audio:
        speech = sim.settings.speech
        lexicon_dir = Path(speech.lexicon_dir) if speech.lexicon_dir else None
        harness.simulator.speaker = SpokenAnswers(build_tts(speech), load_lexicon(speech.language, lexicon_dir))
    return sim, harness


@simulate_group.command("campaign")
@click.option("--personas", "personas_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--start", "start_text", default=None, help="ISO 8601 with offset (default: now, or HUIFANG_NOW).")
@click.option("--days", default=15, show_default=True, type=click.IntRange(1, 120))
@click.option("--real-prompts", is_flag=True, help="Render prompts with espeak-ng (slower) instead of timed silence.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def simulate_campaign(app: App, personas_path: Path, start_text: str | None, days: int, real_prompts: bool,
                      as_json: bool) -> None:
    """Run the real dialer and the simulated callees over DAYS on the virtual clock; print the summary."""
    from datetime import datetime

    from ivr.harness.campaign import load_cast, run_campaign

    try:
        cast = load_cast(personas_path)
    except PersonaError as exc:
        raise click.ClickException(str(exc)) from None
    sim, harness = harness_for(app, real_prompts, capture="record")  # text-mode callees: no stream
    try:
        start = datetime.fromisoformat(start_text) if start_text else sim.clock.now()
    except ValueError:
        raise click.ClickException(f"--start {start_text!r} is not an ISO 8601 time") from None
    if start.tzinfo is None:
        raise click.ClickException(f"--start {start_text!r} needs a UTC offset, e.g. 2026-11-25T09:00:00+08:00")
    summary = run_campaign(harness, cast, start, days)
    if as_json:
        emit_json(summary)
    else:
        for key in ("results", "cases", "tasks", "outcomes"):
            click.echo(f"{key}: " + (", ".join(f"{k} {v}" for k, v in summary[key].items()) or "-"))
        click.echo(f"calls {summary['calls']}, late {summary['late']}")
