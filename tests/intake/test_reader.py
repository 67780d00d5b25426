from pathlib import Path

import openpyxl
import pytest

from intake.reader import IntakeFileError, detect_encoding, open_table
from tests.factories import policy_row, write_csv


@pytest.mark.parametrize(("encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                                    ("gb18030", "gb18030")])
def test_csv_encodings_and_chinese_headers(tmp_path: Path, encoding: str, detected: str) -> None:
    row = policy_row(applicant_name="欧阳娜娜", branch_name="深圳分公司")
    path = write_csv(tmp_path / "p.csv", [row], chinese=True, encoding=encoding)
    assert detect_encoding(path) == detected
    table = open_table(path)
    rows = list(table.rows)
    assert [r.row for r in rows] == [2]
    assert rows[0].values["applicant_name"] == "欧阳娜娜"
    assert rows[0].values["branch_name"] == "深圳分公司"


def test_unknown_columns_are_named_and_ignored(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row()], extra_columns={"备注": "x", "渠道经理": "y"})
    table = open_table(path)
    assert table.ignored_columns == ["备注", "渠道经理"]
    assert "备注" not in next(table.rows).values


def test_blank_lines_are_skipped_but_row_numbers_stay_spreadsheet_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [policy_row(), {}, policy_row()])
    assert [r.row for r in open_table(path).rows] == [2, 4]


def test_a_missing_required_column_fails_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("policy_no,product_code\nP1,T1\n", encoding="utf-8")
    with pytest.raises(IntakeFileError, match=r"missing required column\(s\) product_name \(险种名称\)"):
        open_table(path)


def test_two_headers_for_one_column_fail_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("policy_no,保单号\n", encoding="utf-8")
    with pytest.raises(IntakeFileError, match="both mean policy_no"):
        open_table(path)


def test_an_empty_file_and_a_binary_file_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IntakeFileError, match="empty"):
        open_table(empty)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x00\x81\x30\xff\xfe\xff" * 10)  # (\xff\xfe first would be a UTF-16 BOM)
    with pytest.raises(IntakeFileError, match="neither UTF-8 nor GB18030"):
        open_table(binary)


def test_other_suffixes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.xls"
    path.write_bytes(b"x")
    with pytest.raises(IntakeFileError, match="unsupported file type '.xls'"):
        open_table(path)


def test_xlsx_with_typed_cells(tmp_path: Path) -> None:
    from datetime import datetime

    row = policy_row()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    headers = list(row)
    sheet.append(headers)
    values: list[object] = [row[h] for h in headers]
    values[headers.index("issue_date")] = datetime(2026, 11, 12)  # Excel date cell
    values[headers.index("applicant_phone")] = 13700000042  # number cell
    values[headers.index("premium")] = 6000.0
    sheet.append(values)
    path = tmp_path / "p.xlsx"
    workbook.save(path)
    rows = list(open_table(path).rows)
    assert rows[0].row == 2
    assert rows[0].values["issue_date"] == "2026-11-12"
    assert rows[0].values["applicant_phone"] == "13700000042"
    assert rows[0].values["premium"] == "6000"


def test_a_corrupt_xlsx_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(IntakeFileError, match="not a readable XLSX"):
        open_table(path)
