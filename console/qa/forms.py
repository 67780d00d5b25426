"""The quality desk's request parsing: the reviewer's list's query parameters and the two review forms (a call's,
a case's), each into typed values plus messages in Chinese keyed by the parameter or field at fault (shown beside
it, with what the user sent; nothing silently ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from qa.reviews import AnswerMark

KINDS = ("call", "case")
STATUSES = ("pending", "reviewed")
# what the caller really said, as the reviewer may correct it (the input vocabulary less keys: those were typed)
ACTUALS = ("yes", "no", "repeat", "human", "unknown", "silence")
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
REMARKS_MAX = 2000


@dataclass(frozen=True)
class ListQuery:
    period: str | None
    kind: str | None
    status: str | None
    branch: str | None
    page: int
    errors: dict[str, str] = field(default_factory=dict)  # parameter → what is wrong with it


def parse_list_query(args: MultiDict[str, str]) -> ListQuery:
    """`period` (YYYY-MM), `kind` (call|case), `status` (pending|reviewed), `branch` (a code), `page`. An invalid
    value is left out of the filters and named in `errors` (the list still shows, with the message)."""
    errors: dict[str, str] = {}
    period = args.get("period", "").strip() or None
    if period is not None and not PERIOD.fullmatch(period):
        errors["period"] = f"抽样月份：“{period}”无效，请按 YYYY-MM 填写，如 2026-11"
        period = None
    kind = args.get("kind", "").strip() or None
    if kind is not None and kind not in KINDS:
        errors["kind"] = "类型：请选择 通话 或 工单"
        kind = None
    status = args.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        errors["status"] = "状态：请选择 待复核 或 已复核"
        status = None
    raw_page = args.get("page", "").strip() or "1"
    page = 1
    if not raw_page.isdigit() or int(raw_page) < 1:
        errors["page"] = "页码应为正整数"
    else:
        page = int(raw_page)
    return ListQuery(period, kind, status, args.get("branch", "").strip() or None, page, errors)


def version_of(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _remarks(form: MultiDict[str, str], errors: dict[str, str]) -> str:
    remarks = form.get("remarks", "").strip()
    if len(remarks) > REMARKS_MAX:
        errors["remarks"] = f"备注不超过 {REMARKS_MAX} 字（现为 {len(remarks)} 字）"
    return remarks


def _yes_no(form: MultiDict[str, str], name: str, errors: dict[str, str], missing: str) -> bool | None:
    value = form.get(name, "")
    if value not in ("yes", "no"):
        errors[name] = missing
        return None
    return value == "yes"


@dataclass(frozen=True)
class CallReviewForm:
    values: dict[str, str]  # what the user sent, to re-display
    marks: list[AnswerMark]
    result_correct: bool | None
    remarks: str
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and self.result_correct is not None and self.version is not None


def parse_call_review(form: MultiDict[str, str], answers: Iterable[tuple[int, str | None]]) -> CallReviewForm:
    """A call's review: per answer the page listed (`answers`: event seq and what the robot heard) `mark-<seq>`
    right|wrong and, when wrong, `actual-<seq>` (one of ACTUALS, not what the robot heard); `result_correct`
    yes|no; `remarks`; `version` (the sample's, as the page showed it)."""
    errors: dict[str, str] = {}
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    marks: list[AnswerMark] = []
    for seq, heard in answers:
        mark, actual = form.get(f"mark-{seq}", ""), form.get(f"actual-{seq}", "")
        if mark not in ("right", "wrong"):
            errors[f"mark-{seq}"] = "请判定机器人对这一回答的识别是否正确"
        elif mark == "right":
            marks.append(AnswerMark(seq, True))
        elif actual not in ACTUALS:
            errors[f"actual-{seq}"] = "识别有误时，请选择客户实际的回答"
        elif actual == heard:
            errors[f"actual-{seq}"] = "实际回答与机器人的识别相同：请改判为“正确”，或选择客户实际的回答"
        else:
            marks.append(AnswerMark(seq, False, actual))
    result_correct = _yes_no(form, "result_correct", errors, "请判定回访结果是否正确")
    remarks = _remarks(form, errors)
    if result_correct is False and not remarks and "remarks" not in errors:
        errors["remarks"] = "回访结果判定为不正确时，请在备注中说明原因"
    version = version_of(form.get("version", ""))
    if version is None:
        errors[""] = "表单缺少版本号，请刷新页面后重新填写"
    return CallReviewForm(values, marks, result_correct, remarks, version, errors)


@dataclass(frozen=True)
class CaseReviewForm:
    values: dict[str, str]
    followed_rules: bool | None
    score: int | None
    remarks: str
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and None not in (self.followed_rules, self.score, self.version)


def parse_case_review(form: MultiDict[str, str]) -> CaseReviewForm:
    """A case's review: `followed_rules` yes|no, `score` 0–100, `remarks`, `version`."""
    errors: dict[str, str] = {}
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    followed = _yes_no(form, "followed_rules", errors, "请判定处理是否符合规定")
    raw = form.get("score", "").strip()
    score = None
    if not raw:
        errors["score"] = "请填写评分（0–100 的整数）"
    elif not raw.isdigit() or int(raw) > 100:
        errors["score"] = f"评分应为 0–100 的整数（填写的是“{raw}”）"
    else:
        score = int(raw)
    remarks = _remarks(form, errors)
    if followed is False and not remarks and "remarks" not in errors:
        errors["remarks"] = "处理不符合规定时，请在备注中说明哪一条未遵守"
    version = version_of(form.get("version", ""))
    if version is None:
        errors[""] = "表单缺少版本号，请刷新页面后重新填写"
    return CaseReviewForm(values, followed, score, remarks, version, errors)
