"""`huifang recordings fetch`: store the call recordings Twilio announced that are not stored yet."""

from __future__ import annotations

from pathlib import Path

import click

from huifang.app import App
from huifang.output import emit_json
from recordings.media import MediaClient
from recordings.service import store_due
from recordings.store import FileStore


@click.group("recordings")
def recordings_group() -> None:
    """Call recordings."""


@recordings_group.command("fetch")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_fetch(app: App, as_json: bool) -> None:
    """Download and store every pending recording whose next try is due (also run by the dialer)."""
    settings = app.settings
    media = MediaClient(settings.twilio.account_sid, settings.twilio.auth_token)
    with app.unit_of_work() as session:
        counts = store_due(session, media=media, files=FileStore(Path(settings.recordings.root)),
                           now=app.clock.now(), settings=settings.recordings)
    if as_json:
        emit_json(counts)
    else:
        click.echo(f"stored {counts['stored']}, still pending {counts['pending']}")
