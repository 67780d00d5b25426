"""The compliance pages' inputs, parsed and checked: the search's query parameters (`policy`, `phone`, `since`,
`until`, `branch`, `result`, `page`: docs/console.md), the reason for listening, the bundle, the dispute and
the purge forms. Bad input: a Chinese message keyed by the field it names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flows.vocab import ResultClass
from recordings.compliance import Filters

REASON_MAX = 500  # characters of a reason kept in the session and the trail


@dataclass
class SearchQuery:
    filters: Filters
    page: int
    errors: dict[str, str] = field(default_factory=dict)


def day_of(raw: str, words: str, errors: dict[str, str], name: str) -> date | None:
    """A YYYY-MM-DD field; empty is None; anything else is an error naming the field."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{words}：请按 YYYY-MM-DD 填写日期（如 2026-11-25），收到的是“{raw}”"
        return None


def page_of(raw: str | None) -> int:
    return max(1, int(raw)) if raw and raw.isdigit() else 1


def parse_search(args: Mapping[str, str]) -> SearchQuery:
    errors: dict[str, str] = {}
    since = day_of(args.get("since", ""), "开始日期", errors, "since")
    until = day_of(args.get("until", ""), "结束日期", errors, "until")
    if since and until and until < since:
        errors["until"] = "结束日期：不能早于开始日期"
    raw_result = args.get("result", "").strip()
    result = None
    if raw_result:
        try:
            result = ResultClass(raw_result)
        except ValueError:
            errors["result"] = f"回访结果：没有“{raw_result}”这一类"
    phone = args.get("phone", "").strip()
    if phone and len("".join(ch for ch in phone if ch.isdigit())) < 7:
        errors["phone"] = "手机号：请至少输入 7 位数字（如 13912345678）"
    filters = Filters(policy_no=args.get("policy", "").strip() or None, phone=phone or None, since=since,
                      until=until, branch_code=args.get("branch", "").strip() or None, result_class=result)
    return SearchQuery(filters, page_of(args.get("page")), errors)


def reason_of(form: Mapping[str, str], errors: dict[str, str], words: str = "事由") -> str:
    """A required reason: said in words, and not longer than REASON_MAX."""
    reason = form.get("reason", "").strip()
    if not reason:
        errors["reason"] = f"{words}：请填写（如“客户投诉 2026-0042 复核”、“监管检查”）"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"{words}：最多 {REASON_MAX} 个字"
    return reason


@dataclass
class DisputeForm:
    policy_no: str
    action: str  # open | close
    start: date | None
    end: date | None
    reason: str
    was: str  # the dispute as the page showed it (`started/ended`): a stale form is refused
    errors: dict[str, str] = field(default_factory=dict)


def dispute_state(started: date | None, ended: date | None) -> str:
    """The dispute of a policy as one token, for the form's staleness check."""
    return f"{started or ''}/{ended or ''}"


def parse_dispute(form: Mapping[str, str]) -> DisputeForm:
    errors: dict[str, str] = {}
    action = form.get("action", "")
    if action not in ("open", "close"):
        errors["action"] = "操作：请选择登记争议或结束争议"
    start = day_of(form.get("start", ""), "争议开始日期", errors, "start")
    end = day_of(form.get("end", ""), "争议结束日期", errors, "end")
    if action == "open" and start is None and "start" not in errors:
        errors["start"] = "争议开始日期：请填写（投诉或诉讼开始的日期）"
    if action == "close" and end is None and "end" not in errors:
        errors["end"] = "争议结束日期：请填写（投诉或诉讼结束的日期）"
    reason = reason_of(form, errors)
    return DisputeForm(form.get("policy", "").strip(), action, start, end, reason, form.get("was", ""), errors)
