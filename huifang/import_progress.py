"""`huifang import`'s progress bar: on a terminal only (stderr is a TTY), so scripts, pipes and logs get exactly
the output they got before. The bar advances as the intake commits its chunks (intake.service.PolicyIntake's
`after_chunk`), against the file's estimated row count (intake.reader.count_rows)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO, cast

import click

from intake.reader import count_rows
from intake.service import ImportSummary


@contextmanager
def import_progress(file: Path, stream: IO[str] | None = None) -> Iterator[tuple[Callable[[ImportSummary], None],
                                                                                   Callable[[ImportSummary], None]]]:
    """(after_chunk, before_phone_rules) callbacks for PolicyIntake: a bar on `stream` (stderr) when it is a
    terminal, else callbacks that do nothing."""
    out = stream if stream is not None else sys.stderr
    total = count_rows(file) if _is_tty(out) else None
    if not total:
        yield _nothing, _nothing
        return
    bar: Any = click.progressbar(length=total, label="importing", file=cast(TextIO, out), show_pos=True, show_eta=True,
                                 item_show_func=lambda text: text)
    done = 0

    def after_chunk(summary: ImportSummary) -> None:
        nonlocal done
        step, done = max(summary.rows - done, 0), summary.rows
        bar.update(step, f"{summary.rows} rows, {summary.rejected_rows} rejected")

    def before_phone_rules(summary: ImportSummary) -> None:
        bar.update(max(total - done, 0), "checking phone numbers")

    with bar:
        yield after_chunk, before_phone_rules


def _is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _nothing(summary: ImportSummary) -> None:
    return None
