"""The rejected rows of an import as XLSX, for the core-system team to fix: the spreadsheet row number, the column
(identifier and Chinese header), the message in Chinese (错误说明) and in English (the `error` of `huifang import
--json`), one line per problem. Written to the audit trail (the messages quote the file's values); cells that
would run as a formula are defused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.cases.export import MEDIA_TYPES, attachment, defused
from console.cases.export import to_xlsx as sheet
from intake.columns import BY_NAME
from kit.actor import Actor
from kit.clock import BUSINESS_TZ
from recordings.audit import audit
from storage.models import ImportJob

HEADERS = ("行号", "列名", "中文表头", "错误说明", "英文说明")
WIDTHS = (8, 24, 16, 70, 100)


def message_zh(problem: dict[str, Any]) -> str:
    """A rejected row's Chinese message (a job imported before messages had one: its English)."""
    return str(problem.get("error_zh") or problem["error"])


def rejected_lines(summary: dict[str, Any] | None) -> list[list[Any]]:
    lines: list[list[Any]] = []
    for problem in (summary or {}).get("rejected", []):
        column = str(problem["column"])
        spec = BY_NAME.get(column)
        lines.append([int(problem["row"]), defused(column), spec.label_zh if spec else "",
                      defused(message_zh(problem)), defused(str(problem["error"]))])
    return lines


def to_xlsx(job: ImportJob) -> bytes:
    return sheet(rejected_lines(job.summary), HEADERS, WIDTHS, "被拒绝的行")


def rejected_download(db: Session, actor: Actor, job: ImportJob, now: datetime) -> Response:
    """The download, audited in the caller's transaction (the caller commits)."""
    lines = len((job.summary or {}).get("rejected", []))
    audit(db, actor=actor, action="import_rejects", target=f"import {job.id}: {job.file_name}", now=now,
          detail=f"xlsx, {lines} rows, sha256 {job.sha256}")
    stamp = now.astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M")
    response = Response(to_xlsx(job), content_type=MEDIA_TYPES["xlsx"])
    response.headers["Content-Disposition"] = attachment(f"导入被拒绝行-{job.id}-{stamp}.xlsx",
                                                         f"import-{job.id}-rejected-{stamp}.xlsx")
    response.headers["Cache-Control"] = "no-store"
    return response
