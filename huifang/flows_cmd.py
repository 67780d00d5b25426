"""`huifang flows …`: validate flow files."""

from __future__ import annotations

from pathlib import Path

import click

from flows.library import configured_path, load_library
from huifang.app import App
from huifang.output import emit_json


def flows_path(app: App) -> Path:
    return configured_path(app.settings.questionnaire.flows_path)


@click.group("flows")
def flows_group() -> None:
    """Questionnaire flows."""


@flows_group.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def flows_check(app: App, path: Path | None, as_json: bool) -> None:
    """Validate every flow file under PATH (default: the configured flows). Exit 1 when any is invalid."""
    path = path or flows_path(app)
    if not path.exists():
        raise click.ClickException(f"{path}: no such file or directory")
    library = load_library(path)
    result = {
        "ok": library.ok,
        "errors": [e.as_dict() for e in library.errors],
        "flows": [{"id": f.id, "version": f.version, "hash": f.content_hash, "steps": len(f.steps)}
                  for f in library.flows.values()],
    }
    if as_json:
        emit_json(result)
    else:
        for error in library.errors:
            click.echo(f"{error.file}:{error.line}: {error.message}")
        click.echo(f"{len(library.flows)} valid flows, {len(library.errors)} errors")
    if not library.ok:
        raise SystemExit(1)
