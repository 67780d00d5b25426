"""A rejected row's messages come from one catalogue (intake.problems): every problem has its English `error`
(the JSON contract) and a Chinese `error_zh` that names the column by its Chinese header and quotes the bad
value; each problem below is produced by a real row, in both languages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from intake import problems
from intake.columns import COLUMNS, describe
from intake.problems import CATALOGUE, HEADERS, Problem
from intake.record import RowError
from intake.validate import validate_row
from kit.settings import Settings
from tests.factories import policy_row, raw

TODAY = date(2026, 11, 25)
GOOD_ID = "110105198005170025"  # born 1980-05-17 (policy_row's birth date), female
CJK = re.compile(r"[\u4e00-\u9fff]")


def sample(problem: Problem) -> dict[str, str]:
    """A value for each of the problem's own parameters (the column's names are added by `at`)."""
    return {name: f"<{name}>" for name in problem.parameters() - {"column", "header", "headers"}}


def rejected(**overrides: str) -> list[RowError]:
    result = validate_row(raw(policy_row(**overrides), number=7), Settings(), TODAY)
    assert isinstance(result, list), "expected the row to be rejected"
    return result


@dataclass(frozen=True)
class Case:
    problem: Problem
    row: dict[str, str]  # overrides of a valid row
    column: str
    params: dict[str, Any]
    zh: str  # the Chinese the branch reads

    def __str__(self) -> str:
        return self.problem.code


CASES = [
    Case(problems.REQUIRED, {"applicant_name": ""}, "applicant_name", {}, "投保人姓名为必填项，不能为空"),
    Case(problems.UNKNOWN_VALUE, {"product_type": "储蓄型"}, "product_type",
         {"value": "储蓄型", "what": "product type",
          "allowed": "traditional/传统, participating/分红, universal/万能, investment_linked/投连, health/健康",
          "allowed_zh": "传统、分红、万能、投连、健康"},
         "产品类型「储蓄型」不是可识别的取值（可填：传统、分红、万能、投连、健康）"),
    Case(problems.NOT_A_DATE, {"issue_date": "13/11/2026"}, "issue_date", {"value": "13/11/2026"},
         "承保日期「13/11/2026」不是可识别的日期（应为 YYYY-MM-DD 格式，如 2026-11-13）"),
    Case(problems.NOT_A_CALENDAR_DATE, {"issue_date": "2026-02-30"}, "issue_date", {"value": "2026-02-30"},
         "承保日期「2026-02-30」不是实际存在的日期，请核对月份和日期"),
    Case(problems.NOT_A_WHOLE_NUMBER, {"payment_years": "ten"}, "payment_years", {"value": "ten"},
         "缴费年期「ten」不是整数"),
    Case(problems.BELOW_ONE, {"policy_term_years": "0"}, "policy_term_years", {"number": 0},
         "保险期间(年)「0」不能小于 1"),
    Case(problems.NOT_AN_AMOUNT, {"premium": "六千"}, "premium", {"value": "六千"}, "保费(元)「六千」不是有效的金额"),
    Case(problems.NOT_POSITIVE, {"premium": "0"}, "premium", {"value": "0"}, "保费(元)「0」必须大于 0"),
    Case(problems.TOO_MANY_DECIMALS, {"premium": "100.005"}, "premium", {"value": "100.005"},
         "保费(元)「100.005」超过两位小数（金额精确到分）"),
    Case(problems.SINGLE_PREMIUM_YEARS, {"payment_frequency": "趸交", "payment_years": "3"}, "payment_years",
         {"years": 3}, "缴费年期「3」与缴费方式不符：趸交的缴费年期应为 1 年"),
    Case(problems.IN_THE_FUTURE, {"receipt_logged_date": "2026-11-26"}, "receipt_logged_date",
         {"day": date(2026, 11, 26)}, "回执回销日期「2026-11-26」晚于今天，不能是将来的日期"),
    Case(problems.BIRTH_AFTER_ISSUE, {"applicant_birth_date": "2026-11-20", "applicant_id_no": "E1234567"},
         "applicant_birth_date", {"birth": date(2026, 11, 20), "issue": date(2026, 11, 12)},
         "投保人出生日期「2026-11-20」晚于承保日期「2026-11-12」"),
    Case(problems.SIGNED_BEFORE_ISSUE, {"receipt_signed_date": "2026-11-10"}, "receipt_signed_date",
         {"signed": date(2026, 11, 10), "issue": date(2026, 11, 12)},
         "回执签收日期「2026-11-10」早于承保日期「2026-11-12」"),
    Case(problems.SIGNED_MISSING, {"receipt_signed_date": ""}, "receipt_signed_date", {"logged": date(2026, 11, 17)},
         "已填写回执回销日期「2026-11-17」，回执签收日期不能为空"),
    Case(problems.LOGGED_BEFORE_SIGNED, {"receipt_logged_date": "2026-11-15"}, "receipt_logged_date",
         {"logged": date(2026, 11, 15), "signed": date(2026, 11, 16)},
         "回执回销日期「2026-11-15」早于回执签收日期「2026-11-16」"),
    Case(problems.ID_CHECKSUM, {"applicant_id_no": GOOD_ID[:17] + "9"}, "applicant_id_no",
         {"value": "110105********0029", "expected": "5"},
         "投保人证件号「110105********0029」校验码错误（按前 17 位计算，末位应为 5），请核对证件号码"),
    Case(problems.ID_IMPOSSIBLE_BIRTH, {"applicant_id_no": "110105198002300023", "applicant_birth_date": "1980-02-28"},
         "applicant_id_no", {"value": "110105********0023", "digits": "19800230"},
         "投保人证件号「110105********0023」中的出生日期「19800230」不存在，请核对证件号码"),
    Case(problems.ID_LENGTH, {"applicant_id_no": GOOD_ID[:17]}, "applicant_id_no",
         {"value": "110105*******7002", "length": 17}, "投保人证件号「110105*******7002」为 17 位，居民身份证号码应为 18 位"),
    Case(problems.ID_BIRTH_MISMATCH, {"applicant_id_no": GOOD_ID, "applicant_birth_date": "1980-05-18"},
         "applicant_id_no", {"value": "110105********0025", "id_birth": date(1980, 5, 17), "birth": date(1980, 5, 18)},
         "投保人证件号「110105********0025」中的出生日期 1980-05-17 与投保人出生日期「1980-05-18」不一致"),
    Case(problems.ID_SEX_MISMATCH, {"applicant_id_no": GOOD_ID, "applicant_gender": "男"}, "applicant_id_no",
         {"value": "110105********0025", "id_sex": "女", "gender": "男"},
         "投保人证件号「110105********0025」对应的性别（女）与投保人性别「男」不一致"),
    Case(problems.HEALTH_COOLING_OFF, {"product_type": "健康险", "cooling_off_days": "10"}, "cooling_off_days",
         {"days": 10, "minimum": 15}, "犹豫期(天)「10」天少于长期健康保险最短犹豫期 15 天（《健康保险管理办法》第十五条）"),
]
# Not from one row's validation: a policy number twice in a file, a year the business calendar lacks
# (tests/intake/test_service.py) and a value that is not an ID's shape at all (tests/intake/test_identity.py).
ELSEWHERE = {problems.DUPLICATE_POLICY_NO, problems.CALENDAR_YEAR_UNKNOWN, problems.ID_SHAPE}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_real_row_gets_the_problem_in_both_languages(case: Case) -> None:
    expected = case.problem.at(7, case.column, **case.params)
    assert expected in rejected(**case.row)
    assert expected.error_zh == case.zh


def test_every_problem_is_shown_by_a_row_or_elsewhere() -> None:
    assert {c.problem for c in CASES} | ELSEWHERE == set(CATALOGUE)
    assert len(CATALOGUE) == len({p.code for p in CATALOGUE}) == 24
    assert set(CATALOGUE) == {v for v in vars(problems).values() if isinstance(v, Problem)}


@pytest.mark.parametrize("problem", CATALOGUE, ids=lambda p: p.code)
def test_every_problem_has_both_texts_and_the_chinese_names_the_column(problem: Problem) -> None:
    params = sample(problem)
    for column in (c.name for c in COLUMNS):
        error = problem.at(3, column, **params)
        assert (error.row, error.column) == (3, column)
        assert error.error
        assert CJK.search(error.error_zh), error.error_zh
        assert HEADERS[column] in error.error_zh
        assert "{" not in error.error_zh
        assert "{" not in error.error
        for name in params:  # each parameter is used by one of the two texts
            assert f"<{name}>" in error.error + error.error_zh


def test_the_english_keeps_its_contract_shape() -> None:
    """`error` starts with `identifier (中文表头)` as it always has, except the two historical exceptions."""
    for problem in CATALOGUE:
        if problem in (problems.DUPLICATE_POLICY_NO, problems.CALENDAR_YEAR_UNKNOWN):
            continue
        assert problem.en.startswith("{column}"), problem.code
        assert problem.at(2, "premium", **sample(problem)).error.startswith(describe("premium"))
        assert "{header}" not in problem.en
        assert "{header}" in problem.zh
