"""`huifang letters render --branch B --date D --out FILE.pdf`: the day's callback letters of a branch as one
PDF (docs/interfaces.md). Parsing and printing only: letters/ does the work."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from flows.library import FlowNotFound, load_library
from huifang.app import App
from huifang.flows_cmd import flows_path
from huifang.output import emit_json
from kit.actor import NotAllowed
from letters.batch import LettersRefused
from letters.service import render_day


@click.group("letters")
def letters_group() -> None:
    """Callback letters (信函回访)."""


@letters_group.command("render")
@click.option("--branch", "branch_code", required=True, help="Branch code (机构代码).")
@click.option("--date", "day_text", required=True, help="YYYY-MM-DD: the business day the letter cases were raised.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The PDF to write.")
@click.option("--visits", is_flag=True,
              help="The forms of the day's in-person visit cases (上门回访) instead of the letters.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def letters_render(app: App, branch_code: str, day_text: str, out: Path, visits: bool, as_json: bool) -> None:
    """One PDF of the branch's open letter cases raised that day, a letter per policy: the questionnaire the
    robot would ask, rendered for the policy, with the facts, a receipt to sign and a QR code. --visits: the
    same questionnaire for the day's in-person visits, with the visitor's line."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise click.ClickException(f"--date {day_text!r}: write it as YYYY-MM-DD") from None
    if not out.parent.is_dir():
        raise click.ClickException(f"--out {out}: the folder {out.parent} does not exist")
    library = load_library(flows_path(app))
    with app.unit_of_work() as session:
        try:
            rendered = render_day(session, app.actor, branch_code=branch_code, day=day, out=out, library=library,
                                  settings=app.settings, visits=visits)
        except (LettersRefused, NotAllowed, FlowNotFound) as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(rendered.to_json())
    elif rendered.out is None:
        click.echo(f"branch {branch_code}, {day}: no {'visit' if visits else 'letter'} cases; nothing written")
    else:
        click.echo(f"{rendered.out}: {len(rendered.policies)} letters, {rendered.pages} pages "
                   f"({', '.join(rendered.policies)})")
