"""The synthetic policy generator: every row validates, the special cases are there, output is reproducible."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from huifang.synthetic import synthetic_rows, write_csv
from intake.columns import column_for_header
from intake.identity import parse_resident_id
from intake.reader import RawRow, open_table
from intake.record import PolicyRecord
from intake.validate import validate_row
from kit.settings import Settings
from kit.vocab import Channel, Gender

TODAY = date(2026, 11, 25)
COUNT = 2000


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return list(synthetic_rows(COUNT, seed=42, today=TODAY))


@pytest.fixture(scope="module")
def records(rows: list[dict[str, str]]) -> list[PolicyRecord]:
    out: list[PolicyRecord] = []
    for number, row in enumerate(rows, start=2):
        result = validate_row(RawRow(number, row), Settings(), TODAY)
        assert isinstance(result, PolicyRecord), result
        out.append(result)
    return out


def test_every_row_validates_and_only_the_deliberate_phones_are_invalid(records: list[PolicyRecord]) -> None:
    invalid = [r for r in records if not r.applicant_phone.valid]
    assert 1 <= len(invalid) <= COUNT * 0.01
    assert all(len(r.applicant_phone.raw) == 10 for r in invalid)
    assert all(r.agent_phone.valid for r in records)
    assert all(r.applicant_phone2.valid for r in records if r.applicant_phone2 is not None)
    assert len({r.policy_no for r in records}) == COUNT


def test_the_mix_is_realistic(records: list[PolicyRecord]) -> None:
    one_year = [r for r in records if r.policy_term_years == 1]
    group = [r for r in records if r.is_group]
    assert 0.02 * COUNT <= len(one_year) <= 0.10 * COUNT
    assert 1 <= len(group) <= 0.03 * COUNT
    assert len({r.branch_code for r in records}) >= 15
    bank = [r for r in records if r.channel is Channel.BANCASSURANCE]
    assert bank
    assert all(r.bank_name for r in bank)
    assert all(r.payment_years == 1 for r in records if r.payment_frequency.value == "single")
    assert len({r.agent_code: r.agent_phone.stored for r in records}) == len({r.agent_phone.stored for r in records})


def test_dates_are_plausible_and_never_in_the_future(records: list[PolicyRecord]) -> None:
    for r in records:
        assert TODAY - timedelta(days=30) <= r.issue_date < TODAY
        assert date(1950, 1, 1) <= r.applicant_birth_date <= date(2004, 12, 31)
        if r.receipt_signed_date:
            assert 1 <= (r.receipt_signed_date - r.issue_date).days <= 5
            assert r.receipt_signed_date <= TODAY
        if r.receipt_logged_date:
            assert r.receipt_signed_date is not None
            assert 0 <= (r.receipt_logged_date - r.receipt_signed_date).days <= 2
            assert r.receipt_logged_date <= TODAY
    unsigned = sum(1 for r in records if r.receipt_signed_date is None)
    assert 0.02 * COUNT <= unsigned <= 0.2 * COUNT


def test_resident_ids_match_birth_date_and_gender(records: list[PolicyRecord]) -> None:
    for r in records:
        resident = parse_resident_id(r.applicant_id_no)
        assert resident.birth_date == r.applicant_birth_date
        assert resident.male == (r.applicant_gender is Gender.MALE)


def test_some_numbers_are_shared_by_three_applicants_and_some_are_the_agents(records: list[PolicyRecord]) -> None:
    applicants: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.applicant_phone.valid:
            applicants[r.applicant_phone.stored].add(r.applicant_id_no)
    assert any(len(ids) >= 3 for ids in applicants.values())
    assert any(r.applicant_phone.stored == r.agent_phone.stored and not r.agent_is_applicant for r in records)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = list(synthetic_rows(300, seed=5, today=TODAY))
    assert first == list(synthetic_rows(300, seed=5, today=TODAY))
    assert first != list(synthetic_rows(300, seed=6, today=TODAY))


def test_chinese_rows_validate_too() -> None:
    for number, row in enumerate(synthetic_rows(300, seed=1, today=TODAY, headers="zh"), start=2):
        values = {column_for_header(k) or k: v for k, v in row.items()}
        assert isinstance(validate_row(RawRow(number, values), Settings(), TODAY), PolicyRecord)


def test_write_csv_with_chinese_headers_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "policies.csv"
    assert write_csv(path, 200, seed=3, today=TODAY, chinese_headers=True) == 200
    assert path.read_bytes().startswith(b"\xef\xbb\xbf\xe4\xbf\x9d\xe5\x8d\x95\xe5\x8f\xb7")  # BOM + 保单号
    table = open_table(path)
    assert table.encoding == "utf-8-sig"
    assert not table.ignored_columns
    read = list(table.rows)
    assert len(read) == 200
    expected = list(synthetic_rows(200, seed=3, today=TODAY))
    assert read[0].values["policy_no"] == expected[0]["policy_no"]
    assert read[0].values["product_type"] in {"传统", "分红", "万能", "投连", "健康"}
    assert all(isinstance(validate_row(raw, Settings(), TODAY), PolicyRecord) for raw in read)
