"""The case page's 回访方式 form: parsing it, and what channels.switch says, in Chinese. The rule stays in
channels.switch.move (the same as `huifang tasks channel`); here it is only asked and translated."""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from channels.sequence import CASE_FOR
from channels.switch import ChannelRefused, Moved, Refusal
from console.labels import CALLBACK_CHANNEL_ZH, CASE_TYPE_ZH, RESULT_ZH
from kit.vocab import CallbackChannel

FIELDS = ("to", "reason")
REFUSAL_ZH: dict[Refusal, tuple[str, str]] = {  # code → (the field it is shown beside, the words)
    Refusal.OUT_OF_SCOPE: ("to", "该保单不在您的机构范围内，不能转换回访方式"),
    Refusal.REASON_REQUIRED: ("reason", "请填写原因（转换回访方式记入审计日志）"),
    Refusal.CANCELLED: ("to", "回访任务已取消，不能转为其他回访方式"),
    Refusal.SUCCEEDED: ("to", "回访已成功（{result_class}），无需再转为其他回访方式"),
    Refusal.CALL_UNDER_WAY: ("to", "回访电话正在进行，请在通话结束后再转换回访方式"),
}


@dataclass(frozen=True)
class ChannelForm:
    values: dict[str, str]  # what the user sent, to re-display
    to: CallbackChannel | None
    reason: str
    errors: dict[str, str] = field(default_factory=dict)  # field → message


def parse_channel(form: MultiDict[str, str]) -> ChannelForm:
    """`to` (phone, ecallback, letter, visit) and `reason` (required: the move is audited)."""
    values = {name: form.get(name, "") for name in FIELDS}
    errors: dict[str, str] = {}
    to = None
    try:
        to = CallbackChannel(values["to"])
    except ValueError:
        errors["to"] = "请选择回访方式"
    if not values["reason"].strip():
        errors["reason"] = REFUSAL_ZH[Refusal.REASON_REQUIRED][1]
    return ChannelForm(values, to, values["reason"].strip(), errors)


def refusal_zh(exc: ChannelRefused) -> tuple[str, str]:
    """(the field, the message in Chinese)."""
    name, text = REFUSAL_ZH[exc.code]
    result = str(exc.params.get("result_class", ""))
    return name, text.format(result_class=RESULT_ZH.get(result, result))


def moved_zh(moved: Moved) -> str:
    """The flash after the form: 已转为信函回访 (and the work order it opened), or that nothing changed."""
    words = CALLBACK_CHANNEL_ZH[moved.after]
    if not moved.changed:
        return f"回访方式已是{words}，未作更改"
    case_type = CASE_FOR.get(moved.after)
    opened = f"，已生成{CASE_TYPE_ZH[case_type]}（工单 {moved.case_id}）" if moved.case_id and case_type else ""
    return f"已转为{words}{opened}"
