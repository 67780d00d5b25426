"""The case desk's request parsing: the queue's query parameters and the forms, each into typed values plus
messages in Chinese keyed by the parameter or field at fault (shown beside it; nothing silently ignored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from werkzeug.datastructures import MultiDict

from cases.actions import Action, Handling
from cases.queue import Assignee, QueueFilter, parse_month
from flows.vocab import CaseType
from kit.clock import BUSINESS_TZ
from kit.vocab import SlaStatus

FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class QueueQuery:
    filters: QueueFilter
    page: int
    format: str | None  # xlsx | csv: an export of every filtered row instead of the page
    errors: dict[str, str] = field(default_factory=dict)  # parameter → what is wrong with it


def parse_queue_query(args: MultiDict[str, str]) -> QueueQuery:
    """`type`, `sla_status`, `assignee`, `branch`, `month`, `q`, `page`, `format`. An invalid value is left out
    of the filters and named in `errors` (the page still shows, with the message)."""
    errors: dict[str, str] = {}
    case_type = args.get("type", "")
    if case_type and case_type not in {t.value for t in CaseType}:
        errors["type"] = f"type 参数无效：{case_type}（应为工单类型代码，如 dialect_case）"
    sla = args.get("sla_status", "")
    if sla and sla not in {s.value for s in SlaStatus}:
        errors["sla_status"] = "sla_status 参数应为 normal、warning 或 overdue"
    assignee = args.get("assignee", "") or Assignee.ANYONE.value
    if assignee not in {a.value for a in Assignee}:
        errors["assignee"] = "assignee 参数应为 me、unassigned 或 anyone"
    month = None
    if args.get("month"):
        try:
            month = parse_month(args["month"])
        except ValueError:
            errors["month"] = "month 参数格式应为 2026-11"
    raw_page = args.get("page", "") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        errors["page"] = "page 参数应为正整数"
    fmt = args.get("format", "") or None
    if fmt is not None and fmt not in FORMATS:
        errors["format"] = "format 参数应为 xlsx 或 csv"
    filters = QueueFilter(
        branch_code=args.get("branch", "").strip() or None,
        case_type=CaseType(case_type) if case_type and "type" not in errors else None,
        sla=SlaStatus(sla) if sla and "sla_status" not in errors else None,
        text=args.get("q", "").strip() or None,
        assignee=Assignee(assignee) if "assignee" not in errors else Assignee.ANYONE,
        month=month)
    page = int(raw_page) if "page" not in errors else 1
    return QueueQuery(filters, page, fmt if "format" not in errors else None, errors)


@dataclass(frozen=True)
class ResolutionForm:
    values: dict[str, str]  # what the user sent, to re-display
    handling: Handling | None  # None: `errors` says which field is wrong
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)


def parse_resolution(form: MultiDict[str, str]) -> ResolutionForm:
    """The resolution form: `action`, `note`, `phone`, `at` (Beijing time unless it has an offset),
    `told_rescission`, `visitor`, `version`."""
    values = {k: form.get(k, "") for k in ("action", "note", "phone", "at", "told_rescission", "visitor")}
    errors: dict[str, str] = {}
    action = None
    try:
        action = Action(values["action"])
    except ValueError:
        errors["action"] = "请选择处理方式"
    at = None
    if values["at"].strip():
        try:
            parsed = datetime.fromisoformat(values["at"].strip())
            at = parsed.replace(tzinfo=BUSINESS_TZ) if parsed.tzinfo is None else parsed
        except ValueError:
            errors["at"] = "时间格式应为 2026-11-30 14:00"
    handling = None
    if action is not None and not errors:
        handling = Handling(action, values["note"].strip(), values["phone"].strip() or None, at,
                            values["told_rescission"] == "y", values["visitor"].strip() or None)
    return ResolutionForm(values, handling, version_of(form.get("version", "")), errors)


def version_of(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class BulkAssignForm:
    cases: list[tuple[int, int | None]]  # (case id, the version the list showed)
    to: str
    errors: list[str] = field(default_factory=list)


def parse_bulk_assign(form: MultiDict[str, str]) -> BulkAssignForm:
    """`case` (repeated, `ID:VERSION` as the list's checkboxes send it) and `to`."""
    cases: list[tuple[int, int | None]] = []
    errors: list[str] = []
    for value in form.getlist("case"):
        case_id, _, version = value.partition(":")
        if not case_id.isdigit():
            errors.append(f"case 参数无效：{value}")
            continue
        cases.append((int(case_id), version_of(version)))
    if not cases and not errors:
        errors.append("请先勾选要分派的工单")
    return BulkAssignForm(cases, form.get("to", "").strip(), errors)
