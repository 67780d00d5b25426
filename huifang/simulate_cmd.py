"""`huifang simulate call`: one call through the real webhooks, Twilio and the callee simulated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from huifang.app import App
from huifang.output import emit_json, emit_table
from ivr.harness.persona import MODES, PersonaError, load_persona

SIMULATED_ACCOUNT = "AC" + "5" * 32
SIMULATED_TOKEN = "simulated-auth-token"


@click.group("simulate")
def simulate_group() -> None:
    """Simulated calls: test a flow with a persona without a phone line (use a test database)."""


def simulated(app: App) -> App:
    """The app with a virtual clock (from HUIFANG_NOW or now) and simulation credentials if none are set."""
    from kit.clock import FrozenClock

    settings = app.settings
    if not settings.twilio.auth_token:
        settings = dataclasses.replace(settings, twilio=dataclasses.replace(
            settings.twilio, account_sid=SIMULATED_ACCOUNT, auth_token=SIMULATED_TOKEN))
    return App(settings=settings, clock=FrozenClock(app.clock.now()))


@simulate_group.command("call")
@click.option("--policy", "policy_no", required=True)
@click.option("--persona", "persona_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(MODES), default=None, help="Overrides the persona's mode.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def simulate_call(app: App, policy_no: str, persona_path: Path, mode: str | None, as_json: bool) -> None:
    """Run one call of POLICY's callback task with the persona as the callee; print the transcript and result."""
    from huifang.web import build_services
    from ivr.app import create_app
    from ivr.harness.local import LocalHarness
    from ivr.harness.media import InjectedRecognizer

    try:
        persona = load_persona(persona_path)
    except PersonaError as exc:
        raise click.ClickException(str(exc)) from None
    if mode:
        persona = dataclasses.replace(persona, mode=mode)
    if persona.mode == "audio":
        raise click.ClickException("--mode audio: not available yet (text and dtmf are)")
    sim = simulated(app)
    recognizer = InjectedRecognizer()
    services = build_services(sim, recognizer=recognizer)
    harness = LocalHarness.build(services, create_app(services), recognizer)
    try:
        result = harness.call(policy_no, persona)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(result)
        return
    emit_table(["who", "topic", "text", "digits"],
               [(t["who"], t["topic"] or "", t["text"], t["digits"]) for t in result["transcript"]])
    click.echo()
    click.echo(f"{result['call_sid']}: {result['outcome']}, result {result['result_class']}, "
               f"reasons {', '.join(result['reason_codes']) or '-'}, cases "
               f"{', '.join(c['type'] for c in result['cases']) or '-'}")
