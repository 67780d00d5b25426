"""What cases.actions says, in Chinese for staff. The rules and their English words stay in cases.actions (the
CLI's); here each refusal and effect code is only translated, with the values it names in staff's words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cases.outcomes import ActionRefused, CaseNotFound, Effect, EffectCode, Refusal
from console.cases.labels import ACTION_ZH, CASE_STATUS_ZH, ROLE_ZH, TASK_STATUS_ZH, TYPE_ZH, local_time
from kit.actor import NotAllowed, Role

REFUSAL_ZH: dict[Refusal, str] = {
    Refusal.CASE_NOT_OPEN: "该工单{case_status}，不能再处理",
    Refusal.NOT_APPLICABLE: "“{action}”不适用于{case_type}",
    Refusal.STALE: "该工单已被他人修改，请刷新后重试",
    Refusal.EXPLANATION_TOO_LATE: "逾期情况说明须在截止时间（{due}）之前提交",
    Refusal.EXPLANATION_TEXT_REQUIRED: "请在备注中填写逾期情况说明",
    Refusal.PHONE_REQUIRED: "请填写更正后的号码",
    Refusal.PHONE_INVALID: "号码 {phone} 无效，无法拨打",
    Refusal.TIME_REQUIRED: "请填写与客户约定的回访时间",
    Refusal.TIME_REFUSED: "约定时间 {at} 不可用",  # the dialer's reason, when known: TIME_WHY_ZH
    Refusal.NO_TASK: "该工单没有对应的回访任务，无法安排回访",
    Refusal.TASK_CANCELLED: "回访任务已取消，无法再安排回访",
    Refusal.CALL_UNDER_WAY: "回访电话正在进行（{task_status}），请在通话结束后重试",
    Refusal.TASK_STATE: "回访任务当前为“{task_status}”，不能进行此操作",
    Refusal.STATEMENTS_REQUIRED: "请在备注中记录向客户所做的说明",
    Refusal.RESCISSION_NOT_TOLD: "健康险须告知客户犹豫期内可撤销合同，请告知后勾选",
    Refusal.QUESTIONNAIRE_REQUIRED: "请在备注中注明收到的签字问卷或回执",
    Refusal.ASSIGNEE_REQUIRED: "请填写处理人",
    Refusal.OWN_AGENT: "销售误导件不能分派给该保单的业务员（{agent}）",
    Refusal.VISITOR_REQUIRED: "请填写上门回访人员",
    Refusal.VISITOR_IS_AGENT: "上门回访不能由该保单的业务员（{agent}）进行：回访人员不得为销售人员",
    Refusal.OUTSIDE_BRANCH: "{to} 不是本机构（{branch}）的工单处理人员：只能分派给本机构人员",
}
TIME_WHY_ZH = {  # dialer.appointments.AppointmentRefused.code
    "not_waiting": "回访任务当前不在等待拨打，不能预约",
    "no_offset": "约定时间缺少时区",
    "not_future": "约定时间 {at} 已过，请选择将来的时间",
    "night": "约定时间 {at} 在夜间，机器人夜间不拨打电话",
}
EFFECT_ZH: dict[EffectCode, str] = {
    EffectCode.EXPLANATION_FILED: "已提交逾期情况说明，工单保持打开",
    EffectCode.PHONE_CHANGED: "号码 {old} → {new}",
    EffectCode.CALLBACK_QUEUED: "已重新安排回访",
    EffectCode.CALLBACK_STILL_HELD: "回访仍暂停：号码还有其他问题（见暂停原因）",
    EffectCode.APPOINTMENT_BOOKED: "已预约 {at} 回访",
    EffectCode.CONFIRMING_QUEUED: "已安排确认回访",
    EffectCode.CONFIRMING_WAITS: "确认回访待号码暂停解除后进行",
    EffectCode.CALLBACK_CANCELLED: "回访已取消",
    EffectCode.OTHER_CASES_CANCELLED: "该保单另有 {count} 件工单已取消",
    EffectCode.CALLBACK_COMPLETED: "回访已完成：标准件",
    EffectCode.CASE_STATUS: "工单{case_status}",
    EffectCode.ASSIGNED: "已分派给 {to}",
}
NOT_FOUND_ZH = "未找到该工单（不存在，或不在您的权限范围内）"
_BY_PARAM = {"case_status": CASE_STATUS_ZH, "task_status": TASK_STATUS_ZH, "case_type": TYPE_ZH, "action": ACTION_ZH}


def _words(params: Mapping[str, object]) -> dict[str, str]:
    """The values a message names, as staff read them (statuses and types in Chinese, times in Beijing time)."""
    words: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, datetime):
            words[name] = local_time(value)
        else:
            words[name] = _BY_PARAM.get(name, {}).get(str(value), str(value))
    return words


def refusal_zh(exc: ActionRefused | CaseNotFound | NotAllowed) -> str:
    if isinstance(exc, CaseNotFound):
        return NOT_FOUND_ZH
    if isinstance(exc, NotAllowed):
        roles = "、".join(ROLE_ZH.get(r, r) for r in sorted(exc.needs - {Role.OPERATOR, Role.SYSTEM}))  # people's
        return f"您的账号无权进行此操作（需要：{roles}）" if roles else "您的账号无权进行此操作"
    text = REFUSAL_ZH[exc.code]
    if exc.code is Refusal.TIME_REFUSED:
        text = TIME_WHY_ZH.get(str(exc.params.get("why", "")), text)
    return text.format(**_words(exc.params))


def effect_zh(effect: Effect) -> str:
    return EFFECT_ZH[effect.code].format(**_words(effect.params))
