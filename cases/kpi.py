"""Monthly KPIs (docs/domain.md §10): every rate with its numerator and denominator, so a reader can check.

- coverage_rate = tasks due in the month with at least one attempt / tasks due
- success_rate = due tasks called back successfully (reached, questionnaire done) / tasks due
- in_cooling_off_success_rate = of those, completed on or before the cooling-off end / tasks due
- problem_case_ratio = due tasks whose result is `problem` / successful callbacks
- problem_case_completion_rate = problem cases raised in the month closed within their SLA / raised
- overdue_rate = work orders open at the month's end and past due then / open at the month's end
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from flows.vocab import CaseType, ResultClass
from kit.clock import business_start_of
from kit.settings import ReportSettings
from storage.repositories import reports as report_repo

GROUPINGS = ("branch", "channel", "agent", "product_type", "callback_channel")
# A successful callback: the applicant was reached and the questionnaire done, whatever it found.
SUCCESS_CLASSES = (ResultClass.STANDARD, ResultClass.SUB_STANDARD, ResultClass.PROBLEM)
# Problem cases (问题件工单) for the completion rate: the work orders a problem result raises, not verification.
PROBLEM_CASE_TYPES = (CaseType.FIRST_EXPLANATION_CASE, CaseType.SECOND_EXPLANATION_CASE,
                      CaseType.MIS_SELLING_CASE, CaseType.PROXY_SIGNATURE_CASE, CaseType.CONTRACT_QUALITY_CASE,
                      CaseType.IN_PERSON_VISIT_CASE, CaseType.LETTER_CASE)
RATES = {  # rate: (numerator, denominator)
    "coverage_rate": ("attempted", "due"),
    "success_rate": ("successful", "due"),
    "in_cooling_off_success_rate": ("successful_in_cooling_off", "due"),
    "problem_case_ratio": ("problem", "successful"),
    "problem_case_completion_rate": ("problem_cases_closed_in_sla", "problem_cases"),
    "overdue_rate": ("overdue_cases", "open_cases"),
}
COUNTS = ("due", "attempted", "successful", "successful_in_cooling_off", "problem", "problem_cases",
          "problem_cases_closed_in_sla", "open_cases", "overdue_cases")
HEADERS_ZH = {
    "key": "分组", "due": "应回访件数", "attempted": "已拨打件数", "successful": "回访成功件数",
    "successful_in_cooling_off": "犹豫期内成功件数", "problem": "问题件数", "problem_cases": "问题工单数",
    "problem_cases_closed_in_sla": "时效内办结工单数", "open_cases": "月末未结工单数", "overdue_cases": "月末超时工单数",
    "coverage_rate": "回访覆盖率", "success_rate": "回访成功率", "in_cooling_off_success_rate": "犹豫期内回访成功率",
    "problem_case_ratio": "问题件占比", "problem_case_completion_rate": "问题件处理完成率", "overdue_rate": "工单超时率",
}


GROUPING_ZH = {"branch": "机构", "channel": "渠道", "agent": "业务员", "product_type": "产品类型",
               "callback_channel": "回访方式"}


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Month:
    first: date
    last: date

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            first = datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise ReportError(f"--month {text!r}: expected YYYY-MM") from None
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1))

    @property
    def start(self) -> datetime:
        return business_start_of(self.first)

    @property
    def end(self) -> datetime:
        return business_start_of(self.last + timedelta(days=1))


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def kpi(session: Session, month: Month, by: str) -> dict[str, Any]:
    """The month's report grouped `by`: a row per group with a task due in the month, a problem case raised in
    it or a work order open at its end (keys in order), and the total."""
    if by not in GROUPINGS:
        raise ReportError(f"--by {by!r}: one of {', '.join(GROUPINGS)}")
    tasks = _task_counts(session, month, by)
    cases = report_repo.case_counts(session, by, month.start, month.end, problem_case_types=PROBLEM_CASE_TYPES)
    grouped = {key: {name: 0 for name in COUNTS} | tasks.get(key, {}) | cases.get(key, {})
               for key in sorted(set(tasks) | set(cases))}
    total = {name: sum(counts[name] for counts in grouped.values()) for name in COUNTS}
    return {"month": f"{month.first:%Y-%m}", "by": by,
            "rows": [_row(key, counts) for key, counts in grouped.items()], "total": _row("合计", total)}


def _task_counts(session: Session, month: Month, by: str) -> dict[str, dict[str, int]]:
    return report_repo.task_counts(session, by, month.first, month.last, month.end,
                                   success_classes=SUCCESS_CLASSES, problem_class=ResultClass.PROBLEM)


def _row(key: str, counts: dict[str, int]) -> dict[str, Any]:
    return {"key": key, **{name: rate(counts[n], counts[d]) for name, (n, d) in RATES.items()}, **counts}


def agent_warnings(session: Session, month: Month, settings: ReportSettings,
                   by_agent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Agents with at least `agent_warning_min_due` callbacks due whose success rate is below the threshold
    (月度预警, docs/domain.md §10), in agent code order. Only tasks count, so only tasks are read — or nothing,
    given `by_agent`: the month's `kpi(…, "agent")` the caller has already."""
    if by_agent is None:
        rows = [(key, counts["due"], counts["successful"])
                for key, counts in sorted(_task_counts(session, month, "agent").items())]
    elif (by_agent["month"], by_agent["by"]) == (f"{month.first:%Y-%m}", "agent"):
        rows = [(r["key"], r["due"], r["successful"]) for r in by_agent["rows"]]
    else:
        raise ValueError(f"by_agent is the report of {by_agent['month']} by {by_agent['by']}")
    names = report_repo.agent_names(session)
    warned = [{"agent_code": key, "agent_name": names.get(key, ""), "due": due, "successful": successful,
               "success_rate": rate(successful, due)}
              for key, due, successful in rows
              if due >= settings.agent_warning_min_due
              and (rate(successful, due) or 0.0) < settings.agent_warning_success_rate]
    return {"month": f"{month.first:%Y-%m}", "threshold": settings.agent_warning_success_rate, "agents": warned}


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    columns = ["key", *RATES, *COUNTS]
    writer = csv.writer(out)
    writer.writerow([HEADERS_ZH[c] for c in columns])
    for row in [*report["rows"], report["total"]]:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return out.getvalue()


def to_xlsx(report: dict[str, Any], path: Path | IO[bytes]) -> None:
    """The report as a workbook, written to a file (the CLI's --xlsx) or a binary stream (the console's export)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report['month']} 按{GROUPING_ZH[report['by']]}"
    columns = ["key", *RATES, *COUNTS]
    sheet.append([HEADERS_ZH[c] for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in [*report["rows"], report["total"]]:
        sheet.append([row[c] for c in columns])
    for column in range(2, 2 + len(RATES)):
        for cell in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell[0].number_format = "0.00%"
    for index in range(1, len(columns) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 14
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    book.save(path)
