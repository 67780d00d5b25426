"""`huifang watch DIR`: import the policy files that land in a folder (intake.drop), and the dialer's `drop` job
that does the same on `[drop] dir`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from huifang.app import App
from huifang.output import emit_json
from intake.drop import Watcher, WatchResult

sleep: Callable[[float], None] = time.sleep  # tests replace it: the loop never really sleeps there
_job_watchers: dict[str, Watcher] = {}  # the dialer job's, one per folder: its previous look is its memory


def build_watcher(app: App, folder: Path) -> Watcher:
    return Watcher(folder, app.sessions, settings=app.settings, calendar=app.calendar, clock=app.clock,
                   sleep=lambda seconds: sleep(seconds))


def drop_job(app: App) -> dict[str, Any]:
    """The dialer's job on `[drop] dir`: one look (a file is imported at the first look that finds it as this
    process's previous look saw it)."""
    folder = app.settings.drop.dir
    watcher = _job_watchers.get(folder)
    if watcher is None:
        watcher = _job_watchers[folder] = build_watcher(app, Path(folder))
    return watcher.tick().as_dict()


@click.command("watch")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Look twice ([drop] settle_seconds apart), import, then exit (cron).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON (the loop: one object a line).")
@click.pass_obj
def watch_command(app: App, folder: Path, once: bool, as_json: bool) -> None:
    """Import the policy files that land in DIR (an SFTP landing folder), as `huifang import` does; each goes to
    DIR/done/ (rejected rows in NAME.errors.csv beside it) or DIR/failed/ (nothing imported; why in
    NAME.errors.csv). The same bytes are never imported twice. Runs until stopped unless --once."""
    watcher = build_watcher(app, folder)
    if once:
        _emit(watcher.once(), as_json, indent=True)
        return
    click.echo(f"huifang: watching {watcher.folder} every {app.settings.drop.interval_seconds} s", err=True)
    try:
        watcher.watch(lambda result: _emit(result, as_json, indent=False))
    except KeyboardInterrupt:
        pass


def _emit(result: WatchResult, as_json: bool, *, indent: bool) -> None:
    if as_json:
        if indent:
            emit_json(result.as_dict())
        else:
            import json

            click.echo(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
        return
    for item in result.imported_files:
        rejected = f", {item['rejected_rows']} rejected (see {item['report']})" if item["report"] else ""
        click.echo(f"imported {item['file']}: {item['rows']} rows, {item['imported']} new, {item['updated']} updated"
                   f"{rejected} → {item['moved_to']}")
    for item in result.duplicate_files:
        click.echo(f"duplicate {item['file']}: same content as {item['duplicate_of']}, not imported → "
                   f"{item['moved_to']}")
    for item in result.failed_files:
        click.echo(f"failed {item['file']}: {item['reason']} → {item['moved_to']}")
    if once_waiting := result.waiting_files:
        click.echo(f"waiting (still changing): {', '.join(once_waiting)}")
