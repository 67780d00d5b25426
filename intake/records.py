"""Policies given as records (the API's JSON batch) instead of a file: the same rows for the same intake.

The values are the file's values in JSON clothes, turned into the text a file cell would hold, so every rule
(validation, eligibility, deadlines, phone holds) is intake.validate's and intake.service's, once: a boolean is
`Y`/`N`, a number its decimal text, null or absent an empty cell. A record's `row` is its index in the batch
(0-based), so its problems name the index where a file's name the spreadsheet row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

from intake.columns import BY_NAME
from intake.reader import IntakeTable, RawRow

RecordValue = str | int | Decimal | bool | None


def cell_text(value: RecordValue) -> str:
    """What a file's cell would hold for this JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value).strip()


def records_table(records: Sequence[Mapping[str, RecordValue]]) -> IntakeTable:
    """An intake table of `records` (fields named as the file's English headers, docs/policy-file.md). Fields
    that are not columns are left out and named in `ignored_columns` (the API refuses them before this)."""
    names = {name for record in records for name in record}
    ignored = sorted(n for n in names if n not in BY_NAME)

    def rows() -> Iterator[RawRow]:
        for index, record in enumerate(records):
            yield RawRow(index, {k: cell_text(v) for k, v in record.items() if k in BY_NAME})

    return IntakeTable([n for n in BY_NAME if n in names], ignored, rows(), encoding="json")
