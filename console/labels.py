"""The console's words for the shared vocabulary (docs/architecture.md): what staff read instead of the codes.

`zh(value, kind)` is the Jinja filter `{{ call.result_class | zh('result') }}`; an unknown value shows as it is
(nothing is hidden because a word is missing). The case desk's own maps (case types, SLA, handling actions)
live in console.cases.routes and are reused here, not repeated."""

from __future__ import annotations

from calls.results import RESULT_ZH
from console.cases.routes import ACTION_ZH, SLA_ZH, TYPE_ZH

REASON_ZH = {
    "thought_deposit": "误认为存款", "unclear_coverage": "不清楚保险责任", "unclear_cooling_off_or_surrender_loss":
    "不清楚犹豫期或退保损失", "unclear_payment_or_term": "不清楚缴费期间或保险期间", "unclear_benefit_uncertainty":
    "不清楚利益不确定性", "unclear_ul_fees": "不清楚万能险费用", "suspected_mis_selling": "疑似销售误导",
    "explanation_needed": "需沟通解释", "proxy_signature": "代签名", "proxy_transcription": "代抄录",
    "wrong_number": "电话有误", "duplicate_number": "重复号码", "refused": "拒访", "policy_data_mismatch": "保单信息有误",
    "language_barrier": "语言沟通不畅", "unreachable": "联系不上投保人", "not_received": "未收到合同",
    "applicant_absent": "本人不在", "identity_failed": "核实身份不通过", "claims_surrendered": "客户称已退保",
    "recording_missing": "录音缺失",
}
TASK_STATUS_ZH = {"queued": "待拨打", "held": "暂停拨打", "dialing": "拨号中", "in_progress": "通话中",
                  "completed": "已完成", "cancelled": "已取消"}
CALL_OUTCOME_ZH = {"in_progress": "进行中", "completed": "已完成", "hangup": "中途挂断", "busy": "占线",
                   "no_answer": "无人接听", "machine": "答录机", "failed": "呼叫失败", "canceled": "已取消"}
END_REASON_ZH = {"completed": "问卷完成", "identity_failed": "身份核实不通过", "applicant_absent": "本人不在",
                 "not_received": "未收到合同", "refused": "拒访", "language_barrier": "语言沟通不畅",
                 "hangup": "中途挂断", "handed_off": "转人工"}
CASE_STATUS_ZH = {"open": "待处理", "in_progress": "处理中", "closed": "已办结", "cancelled": "已撤销"}
PRODUCT_TYPE_ZH = {"traditional": "传统型", "participating": "分红型", "universal": "万能型",
                   "investment_linked": "投资连结型", "health": "健康险"}
CHANNEL_ZH = {"agency": "个险", "bancassurance": "银保", "intermediary": "经代", "telesales": "电销",
              "internet": "网销"}
TOPIC_ZH = {
    "identity": "身份确认", "policy_received": "收到保险合同", "receipt_signed": "签收回执",
    "signed_in_person": "本人签名", "insured_signed": "被保险人签名", "truthful_disclosure": "如实告知",
    "read_documents": "阅读条款及说明书", "understand_coverage": "了解保险责任", "understand_surrender_loss": "了解退保损失",
    "cooling_off_rights": "了解犹豫期权利", "payment_terms": "缴费期间与金额", "knows_is_insurance": "知道购买的是保险",
    "benefit_uncertainty": "利益不确定性", "ul_fees": "万能险费用", "investment_risk": "投资风险",
    "risk_statement_self_copied": "本人抄录风险提示语", "dual_recording_intent": "双录时投保意愿",
    "health_waiting_period": "健康险等待期", "satisfaction": "服务满意度", "contact_confirm": "联系方式确认",
}
ANSWER_ZH = {"yes": "是", "no": "否", "clarified": "解释后确认", "unresolved": "解释后仍不清楚",
             "human_requested": "要求人工解释"}
INPUT_ZH = {"yes": "是", "no": "否", "repeat": "请重复", "human": "要求转人工", "unknown": "未识别", "silence": "无应答",
            "digits": "按键", "hangup": "挂断", "transferred": "已接通人工", "agent_unavailable": "人工未接通"}
HANDOFF_REASON_ZH = {"asked": "客户要求人工", "unresolved": "解释后仍有疑问", "human_first": "按规则由人工回访"}
AGENT_OUTCOME_ZH = {"clarified": "已解释清楚", "not_clarified": "未解释清楚"}
HOLD_REASON_ZH = {"duplicate_number": "重复号码", "wrong_number": "电话有误"}
CASE_EVENT_ZH = {**ACTION_ZH, "opened": "生成工单", "assigned": "分配", "reclassified": "重新判定后关闭",
                 "sla_warning": "进入预警", "sla_overdue": "已超时"}
RECORDING_ZH = {"pending": "待下载", "stored": "已保存", "absent": "无录音", "failed": "录音失败", "purged": "已过保存期删除"}
DIAL_ZH = {"completed": "已接通", "answered": "已接通", "busy": "占线", "no-answer": "无人接听", "failed": "呼叫失败",
           "canceled": "已取消"}
WHO_ZH = {"robot": "机器人", "caller": "客户", "agent": "坐席", "twilio": "系统"}

LABELS: dict[str, dict[str, str]] = {
    "result": RESULT_ZH, "reason": REASON_ZH, "task_status": TASK_STATUS_ZH, "call_outcome": CALL_OUTCOME_ZH,
    "end_reason": END_REASON_ZH, "case_status": CASE_STATUS_ZH, "case_type": TYPE_ZH, "sla": SLA_ZH,
    "action": CASE_EVENT_ZH, "product_type": PRODUCT_TYPE_ZH, "channel": CHANNEL_ZH, "topic": TOPIC_ZH,
    "answer": ANSWER_ZH, "input": INPUT_ZH, "handoff_reason": HANDOFF_REASON_ZH, "agent_outcome": AGENT_OUTCOME_ZH,
    "hold_reason": HOLD_REASON_ZH, "who": WHO_ZH, "recording": RECORDING_ZH, "dial": DIAL_ZH,
}


def zh(value: object, kind: str) -> str:
    """The Chinese word for a vocabulary value of `kind`; the value itself when there is none; empty for None."""
    if value is None:
        return ""
    text = str(value)
    return LABELS[kind].get(text, text)


def zh_list(values: list[str] | None, kind: str) -> str:
    """Several values (reason codes) in one line, joined by 、."""
    return "、".join(zh(v, kind) for v in values or [])
