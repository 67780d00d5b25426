"""Every problem a rejected row can have, each defined once with both of its texts.

`en` is the `error` of `huifang import --json` (a contract for scripts: docs/cli.md; never reworded), `zh` its
Chinese twin `error_zh` for the branch staff and the core-system team who read the console's result page and
the rejected-rows XLSX. Both are `str.format` templates over the same parameters, plus three every problem
gets: `{column}` (the English `identifier (中文表头)` of intake.columns.describe), `{header}` (the column's
Chinese header) and `{headers[name]}` (another column's Chinese header, for problems that name two columns)."""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter
from typing import Any

from intake import columns as cols
from intake.record import RowError

HEADERS: dict[str, str] = {c.name: c.label_zh for c in cols.COLUMNS}


@dataclass(frozen=True)
class Problem:
    code: str
    en: str
    zh: str

    def at(self, row: int, column: str, **params: Any) -> RowError:
        """The problem of `column` in spreadsheet row `row`, in both languages."""
        spec = cols.BY_NAME[column]  # a problem is always about a column of the file
        names = {"column": cols.describe(column), "header": spec.label_zh, "headers": HEADERS}
        return RowError(row, column, self.en.format(**names, **params), self.zh.format(**names, **params))

    def parameters(self) -> set[str]:
        """The names both templates use (`headers[x]` counts as `headers`)."""
        found: set[str] = set()
        for template in (self.en, self.zh):
            for _, field, _, _ in Formatter().parse(template):
                if field is not None:
                    found.add(field.split("[", 1)[0].split(".", 1)[0])
        return found


class ValueProblem(ValueError):
    """A parser's refusal of one value, raised before the value's column is known (intake.validate adds it)."""

    def __init__(self, problem: Problem, **params: Any) -> None:
        self.problem, self.params = problem, params
        super().__init__(f"{problem.code}: {params}")


REQUIRED = Problem(
    "required",
    "{column} is required",
    "{header}为必填项，不能为空")
UNKNOWN_VALUE = Problem(
    "unknown_value",
    "{column}: {value!r} is not a known {what} ({allowed})",
    "{header}「{value}」不是可识别的取值（可填：{allowed_zh}）")
NOT_A_DATE = Problem(
    "not_a_date",
    "{column}: {value!r} is not a date (YYYY-MM-DD)",
    "{header}「{value}」不是可识别的日期（应为 YYYY-MM-DD 格式，如 2026-11-13）")
NOT_A_CALENDAR_DATE = Problem(
    "not_a_calendar_date",
    "{column}: {value!r} is not a real calendar date",
    "{header}「{value}」不是实际存在的日期，请核对月份和日期")
NOT_A_WHOLE_NUMBER = Problem(
    "not_a_whole_number",
    "{column}: {value!r} is not a whole number",
    "{header}「{value}」不是整数")
BELOW_ONE = Problem(
    "below_one",
    "{column}: {number} must be at least 1",
    "{header}「{number}」不能小于 1")
NOT_AN_AMOUNT = Problem(
    "not_an_amount",
    "{column}: {value!r} is not an amount",
    "{header}「{value}」不是有效的金额")
NOT_POSITIVE = Problem(
    "not_positive",
    "{column}: {value} must be greater than 0",
    "{header}「{value}」必须大于 0")
TOO_MANY_DECIMALS = Problem(
    "too_many_decimals",
    "{column}: {value} has more than 2 decimal places",
    "{header}「{value}」超过两位小数（金额精确到分）")
SINGLE_PREMIUM_YEARS = Problem(
    "single_premium_years",
    "{column}: a single premium is paid over 1 year, not {years}",
    "{header}「{years}」与{headers[payment_frequency]}不符：趸交的缴费年期应为 1 年")
IN_THE_FUTURE = Problem(
    "in_the_future",
    "{column}: {day} is in the future",
    "{header}「{day}」晚于今天，不能是将来的日期")
BIRTH_AFTER_ISSUE = Problem(
    "birth_after_issue",
    "{column}: {birth} is after the issue date {issue}",
    "{header}「{birth}」晚于{headers[issue_date]}「{issue}」")
SIGNED_BEFORE_ISSUE = Problem(
    "signed_before_issue",
    "{column}: {signed} is before the issue date {issue}",
    "{header}「{signed}」早于{headers[issue_date]}「{issue}」")
SIGNED_MISSING = Problem(
    "signed_missing",
    "{column} is required when the receipt is logged",
    "已填写{headers[receipt_logged_date]}「{logged}」，{header}不能为空")
LOGGED_BEFORE_SIGNED = Problem(
    "logged_before_signed",
    "{column}: {logged} is before the signing date {signed}",
    "{header}「{logged}」早于{headers[receipt_signed_date]}「{signed}」")
ID_SHAPE = Problem(
    "id_shape",
    "{column}: a resident ID has 17 digits and a check digit or X",
    "{header}「{value}」不是有效的居民身份证号码（应为 17 位数字加 1 位校验码，校验码可为 X）")
ID_CHECKSUM = Problem(
    "id_checksum",
    "{column}: resident ID checksum fails (check character should be {expected})",
    "{header}「{value}」校验码错误（按前 17 位计算，末位应为 {expected}），请核对证件号码")
ID_IMPOSSIBLE_BIRTH = Problem(
    "id_impossible_birth",
    "{column}: resident ID holds an impossible birth date {digits}",
    "{header}「{value}」中的出生日期「{digits}」不存在，请核对证件号码")
ID_LENGTH = Problem(
    "id_length",
    "{column}: {length} digits; a resident ID has 18",
    "{header}「{value}」为 {length} 位，居民身份证号码应为 18 位")
ID_BIRTH_MISMATCH = Problem(
    "id_birth_mismatch",
    "{column}: the ID's birth date {id_birth} differs from applicant_birth_date {birth}",
    "{header}「{value}」中的出生日期 {id_birth} 与{headers[applicant_birth_date]}「{birth}」不一致")
ID_SEX_MISMATCH = Problem(
    "id_sex_mismatch",
    "{column}: the ID's sex differs from applicant_gender",
    "{header}「{value}」对应的性别（{id_sex}）与{headers[applicant_gender]}「{gender}」不一致")
HEALTH_COOLING_OFF = Problem(
    "health_cooling_off",
    "{column}: {days} days is below the {minimum}-day minimum for long-term health (健康保险管理办法 Art.15)",
    "{header}「{days}」天少于长期健康保险最短犹豫期 {minimum} 天（《健康保险管理办法》第十五条）")
DUPLICATE_POLICY_NO = Problem(
    "duplicate_policy_no",
    "policy_no {policy_no} repeats row {first}",
    "{header}「{policy_no}」与第 {first} 行重复，同一文件中每张保单只能出现一次")
CALENDAR_YEAR_UNKNOWN = Problem(
    "calendar_year_unknown",
    "cannot compute the cooling-off end: {reason}",
    "无法计算犹豫期截止日：业务日历缺少 {year} 年的节假日数据（{header}「{signed}」），"
    "请系统管理员在配置中补充 [calendar.years.{year}] 后重新导入")

CATALOGUE: tuple[Problem, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Problem))
