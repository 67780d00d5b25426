"""Reading the intake file: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX, streamed row by row."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from intake.columns import COLUMNS, column_for_header, describe


class IntakeFileError(ValueError):
    """The file as a whole cannot be read (not a single row's problem)."""


@dataclass
class RawRow:
    row: int  # spreadsheet row number; the header is row 1
    values: dict[str, str]


@dataclass
class IntakeTable:
    columns: list[str]
    ignored_columns: list[str]
    rows: Iterator[RawRow]
    encoding: str = "xlsx"


_CHUNK = 1 << 20


SUPPORTED_ENCODINGS = "UTF-8, UTF-8 with BOM, GB18030/GBK"
UNSUPPORTED = (f"is not in a supported encoding (supported: {SUPPORTED_ENCODINGS}; not Big5, UTF-16 or others); "
               "save it from Excel as \"CSV UTF-8\" or as GB18030/GBK text")


def detect_encoding(path: Path) -> str:
    """utf-8-sig when there is a BOM, else utf-8 when every byte decodes, else gb18030. UTF-16 and UTF-32 (a BOM
    of theirs: Excel's "Unicode text") are refused by name."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head[:3] == codecs.BOM_UTF8:
            return "utf-8-sig"
        for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                          (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
            if head.startswith(bom):
                raise IntakeFileError(f"{path}: {name} text {UNSUPPORTED}")
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    with path.open("rb") as handle:
        gb_decoder = codecs.getincrementaldecoder("gb18030")()
        try:
            while chunk := handle.read(_CHUNK):
                gb_decoder.decode(chunk)
            gb_decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise IntakeFileError(f"{path}: neither UTF-8 nor GB18030 text ({exc.reason} at byte {exc.start}): the "
                                  f"file {UNSUPPORTED}") from None
    return "gb18030"


def open_table(path: Path) -> IntakeTable:
    if not path.is_file():
        raise IntakeFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _open_xlsx(path)
    if suffix in {".csv", ".txt", ""}:
        return _open_csv(path)
    raise IntakeFileError(f"{path}: unsupported file type {suffix!r} (use .csv or .xlsx)")


def _map_header(header: list[str], path: Path, encoding: str | None = None) -> tuple[list[str | None], list[str]]:
    mapped: list[str | None] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for raw in header:
        name = column_for_header(raw) if raw is not None else None
        if name is None:
            if raw not in (None, ""):
                ignored.append(str(raw).strip())
            mapped.append(None)
            continue
        if name in seen:
            raise IntakeFileError(f"{path}: columns {seen[name]!r} and {raw!r} both mean {describe(name)}")
        seen[name] = str(raw)
        mapped.append(name)
    if not seen and encoding == "gb18030" and any(not str(h).isascii() for h in header if h):
        # Not one header is known, and it is not plain ASCII: text in another encoding (Big5, Shift-JIS …) that
        # happened to decode as GB18030 into other characters, not a file with every column missing.
        raise IntakeFileError(f"{path}: no header is a policy-file column; the text read as {encoding} gives "
                              f"{_preview(header)}: the file {UNSUPPORTED}")
    missing = [c.name for c in COLUMNS if c.required and c.name not in seen]
    if missing:
        names = ", ".join(describe(m) for m in missing)
        raise IntakeFileError(f"{path}: missing required column(s) {names}")
    return mapped, ignored


def _open_csv(path: Path) -> IntakeTable:
    encoding = detect_encoding(path)
    handle = path.open("r", encoding=encoding, newline="")
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise IntakeFileError(f"{path}: the file is empty (a header row is required)") from None
    except csv.Error as exc:
        handle.close()
        raise IntakeFileError(f"{path}: cannot read the header row: {exc}") from None
    mapped, ignored = _map_header(header, path, encoding)

    def rows() -> Iterator[RawRow]:
        try:
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                yield RawRow(reader.line_num, _row_dict(mapped, values))
        finally:
            handle.close()

    columns = [m for m in mapped if m is not None]
    return IntakeTable(columns, ignored, rows(), encoding)


def _open_xlsx(path: Path) -> IntakeTable:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise IntakeFileError(f"{path}: not a readable XLSX workbook ({exc})") from None
    sheet = workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    try:
        header = [_cell_text(v) for v in next(iterator)]
    except StopIteration:
        workbook.close()
        raise IntakeFileError(f"{path}: the first sheet is empty (a header row is required)") from None
    mapped, ignored = _map_header(header, path)

    def rows() -> Iterator[RawRow]:
        try:
            for number, cells in enumerate(iterator, start=2):
                values = [_cell_text(v) for v in cells]
                if not any(values):
                    continue
                yield RawRow(number, _row_dict(mapped, values))
        finally:
            workbook.close()

    columns = [m for m in mapped if m is not None]
    return IntakeTable(columns, ignored, rows())


def _preview(header: list[str]) -> str:
    shown = "，".join(str(h).strip() for h in header[:3] if h)
    return f"“{shown}…”" if len(header) > 3 else f"“{shown}”"


def count_rows(path: Path) -> int | None:
    """About how many data rows the file has, for a progress bar, without parsing it: a CSV's line breaks
    (a quoted value with a line break counts twice), an XLSX sheet's stated dimension (None when it states
    none). Never used for a decision."""
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(path, read_only=True)
            rows = workbook.worksheets[0].max_row
            workbook.close()
        except Exception:
            return None
        return max(rows - 1, 0) if rows else None
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _row_dict(mapped: list[str | None], values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in zip(mapped, values, strict=False):
        if name is not None:
            out[name] = value.strip()
    return out


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()

