"""The quality measures as a workbook (`huifang report qa --xlsx F`, the console's export)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

HEADERS_ZH = {"key": "分组", "marked": "已标注回答数", "right": "识别正确数", "accuracy": "识别准确率",
              "false_yes": "误判为是", "false_no": "误判为否"}
GROUPS_ZH = {"by_topic": "按问题", "by_language": "按语言", "by_model": "按模型", "by_channel": "按回访方式"}
SUMMARY_ZH = {"answer_accuracy": "回答识别准确率", "false_yes": "误判为是（听到是，实际否）",
              "false_no": "误判为否（听到否，实际是）", "classification_accuracy": "结果分类准确率",
              "reviewed_answers": "已复核回答数", "reviewed_calls": "已复核电话数"}


def to_xlsx(report: dict[str, Any], path: Path | IO[bytes]) -> None:
    """One sheet of totals, one per breakdown, one of case handling scores by branch."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report['period']} 质检"
    sheet.append(["指标", "值"])
    for key, label in SUMMARY_ZH.items():
        sheet.append([label, report[key]])
    for name, label in GROUPS_ZH.items():
        part = book.create_sheet(label)
        columns = list(HEADERS_ZH)
        part.append([HEADERS_ZH[c] for c in columns])
        for row in report[name]:
            part.append([row[c] for c in columns])
    cases = book.create_sheet("工单处理评分")
    cases.append(["机构", "已复核工单数", "符合规定数", "平均分"])
    for row in report["case_scores"]:
        cases.append([row["branch"], row["reviewed"], row["followed_rules"], row["average_score"]])
    for each in book.worksheets:
        for cell in each[1]:
            cell.font = Font(bold=True)
    book.save(path)
