"""The drop folder's files (intake.drop): where a handled file goes, and the error report written beside it.

The report is `NAME.errors.csv` (NAME: the file's name in done/ or failed/, extension included), UTF-8 with a
BOM so that Excel shows the Chinese: one line per problem with the columns of the console's rejected-rows XLSX
(行号, 列名, 中文表头, 错误说明, 英文说明), the Chinese message as the import gives it (intake.problems). A file
that could not be imported at all has one line without a row number: why. Cells that would run as a formula in
a spreadsheet get a leading apostrophe (the messages quote the file's values)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from intake.columns import BY_NAME
from intake.record import RowError

PROCESSING, DONE, FAILED = "processing", "done", "failed"
REPORT_SUFFIX = ".errors.csv"
HEADERS = ("行号", "列名", "中文表头", "错误说明", "英文说明")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def move_out(path: Path, folder: Path, name: str) -> Path:
    """Move `path` into `folder` as `name`, or `stem-2.ext`, `stem-3.ext` … when that name is taken (an earlier
    file of the same name): never over another file."""
    folder.mkdir(exist_ok=True)
    stem, suffix = _split(name)
    for n in range(1, 10_000):
        target = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        if target.exists() or Path(str(target) + REPORT_SUFFIX).exists():
            continue
        try:
            os.link(path, target)  # fails when the name was taken meanwhile: never overwrites
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            if target.exists():
                continue
            os.rename(path, target)
            return target
        os.unlink(path)
        return target
    raise FileExistsError(f"{folder}: no free name for {name}")


def rejected_report(moved: Path, problems: Iterable[RowError], reason: str | None = None) -> Path:
    """The rejected rows beside `moved` (and, first, why nothing was imported when `reason` says so)."""
    lines: list[list[object]] = []
    if reason:
        lines.append(["", "", "", f"文件未能导入：{reason}", reason])
    for problem in problems:
        spec = BY_NAME.get(problem.column)
        lines.append([problem.row, problem.column, spec.label_zh if spec else "", problem.error_zh, problem.error])
    return _write(moved, lines)


def file_report(moved: Path, reason: str) -> Path:
    """Why a file could not be read at all."""
    return _write(moved, [["", "", "", f"文件无法读取，未导入：{reason}", reason]])


def _write(moved: Path, lines: list[list[object]]) -> Path:
    report = Path(str(moved) + REPORT_SUFFIX)
    with report.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows([[_defused(v) for v in line] for line in lines])
    return report


def _defused(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _split(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return (stem, dot + suffix) if stem else (name, "")
