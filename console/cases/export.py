"""导出: the queue's filtered rows (every page, processing order, the user's scope) as XLSX or CSV, with Chinese
headers. Every export is personal data leaving the system: it is written to the audit trail (user, filters,
row count). Cells that a spreadsheet would run as a formula are defused with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from cases.queue import QueueFilter
from console.cases.labels import REASON_ZH, SLA_ZH, TYPE_ZH, local_time, sla_words
from console.cases.queries import Row, every_row
from kit.actor import Actor
from kit.clock import BUSINESS_TZ
from recordings.compliance import audit

HEADERS = ("工单号", "保单号", "投保人", "手机号", "机构", "工单类型", "原因", "SLA 状态", "截止时间", "剩余/超时", "处理人",
           "创建时间")
WIDTHS = (10, 18, 12, 16, 10, 14, 22, 10, 18, 14, 12, 18)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def defused(value: str) -> str:
    """A cell that starts like a formula (= + - @, or a tab/CR before one) gets a leading apostrophe, so a
    spreadsheet shows it as text instead of running it (CSV/formula injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def national(phone: str) -> str:
    """A mainland number as staff dial it (13912345678); any other number as stored."""
    return phone[3:] if phone.startswith("+86") else phone


def table(rows: list[Row], now: datetime) -> list[list[str]]:
    lines = []
    for row in rows:
        c = row.case
        lines.append([str(c.id), row.policy_no, row.applicant, national(row.phone), c.branch_code,
                      TYPE_ZH.get(c.type, c.type), REASON_ZH.get(c.reason, c.reason), SLA_ZH[c.sla_status],
                      local_time(c.due_at), sla_words(c.sla_status, c.due_at, now), c.assigned_to or "",
                      local_time(c.created_at)])
    return [[defused(cell) for cell in line] for line in lines]


def to_csv(lines: list[list[str]], headers: tuple[str, ...] = HEADERS) -> bytes:
    """UTF-8 with a BOM: Excel in China opens it as UTF-8 (without one it guesses GBK)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(lines)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def to_xlsx(lines: Sequence[Sequence[object]], headers: tuple[str, ...] = HEADERS, widths: tuple[int, ...] = WIDTHS,
            title: str = "问题件工单") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for name in headers:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for line in lines:
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def attachment(name: str, ascii_name: str) -> str:
    """Content-Disposition with the Chinese name (RFC 5987) and an ASCII one for clients without it."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def export(db: Session, actor: Actor, now: datetime, filters: QueueFilter, fmt: str, max_rows: int) -> Response:
    """The download, audited in the caller's transaction (the caller commits). TooManyRows past `max_rows`."""
    lines = table(every_row(db, actor, now, filters, max_rows), now)
    audit(db, actor=actor, action="case_export", target=f"cases: {filters.describe()}", now=now,
          detail=f"{fmt}, {len(lines)} rows")
    content = to_csv(lines) if fmt == "csv" else to_xlsx(lines)
    stamp = now.astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M")
    response = Response(content, content_type=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = attachment(f"问题件工单-{stamp}.{fmt}", f"cases-{stamp}.{fmt}")
    response.headers["Cache-Control"] = "no-store"  # personal data
    return response
