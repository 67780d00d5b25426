"""What staff read instead of the codes: the vocabulary's Chinese words (docs/console.md). One table per kind;
`zh(value, kind)` is the Jinja filter `{{ call.result_class | zh('result') }}` and the tables are also Jinja
globals (`sla_zh[...]`). An unknown value shows as it is: nothing is hidden because a word is missing."""

from __future__ import annotations

SLA_ZH = {"normal": "正常", "warning": "预警", "overdue": "超时"}
# The words of the seed documents and the core system (config.example.toml [cases.sla], intake/columns.py).
CASE_TYPE_ZH = {"verification_case": "核实件", "dialect_case": "方言件", "first_explanation_case": "一次沟通解释件",
                "second_explanation_case": "二次沟通解释件", "mis_selling_case": "销售误导件", "proxy_signature_case": "代签字件",
                "in_person_visit_case": "人工亲访件", "letter_case": "信函件", "contract_quality_case": "契约品质件"}
CASE_STATUS_ZH = {"open": "待处理", "in_progress": "处理中", "closed": "已办结", "cancelled": "已撤销"}
TASK_STATUS_ZH = {"queued": "待拨打", "held": "暂停拨打", "dialing": "拨号中", "in_progress": "通话中",
                  "completed": "已完成", "cancelled": "已取消"}
RESULT_ZH = {"standard": "标准件", "sub_standard": "次标准件", "problem": "问题件", "verification": "核实件"}
OUTCOME_ZH = {"in_progress": "通话中", "completed": "已完成", "hangup": "中途挂断", "busy": "占线", "no_answer": "无人接听",
              "machine": "答录机", "failed": "呼叫失败", "canceled": "已取消"}
REASON_ZH = {  # docs/domain.md §9.2
    "thought_deposit": "误认为存款（不知是保险）", "unclear_coverage": "不清楚保险责任/责任免除",
    "unclear_cooling_off_or_surrender_loss": "不清楚犹豫期/退保损失", "unclear_payment_or_term": "不清楚缴费期间/保险期间",
    "unclear_benefit_uncertainty": "不清楚利益不确定性", "unclear_ul_fees": "不清楚万能险费用",
    "suspected_mis_selling": "疑似误导", "explanation_needed": "需沟通解释", "proxy_signature": "代签字",
    "proxy_transcription": "代抄录", "wrong_number": "电话有误", "duplicate_number": "重复号码", "refused": "拒访",
    "policy_data_mismatch": "保单信息有误", "language_barrier": "语言沟通不畅", "unreachable": "联系不上投保人",
    "not_received": "未收到合同", "applicant_absent": "本人不在", "identity_failed": "核实身份不通过",
    "claims_surrendered": "客户称已退保", "recording_missing": "录音缺失",
}
TOPIC_ZH = {
    "identity": "身份确认", "policy_received": "收到保险合同", "receipt_signed": "签收回执",
    "signed_in_person": "本人签名", "insured_signed": "被保险人签名", "truthful_disclosure": "如实告知",
    "read_documents": "阅读条款及说明书", "understand_coverage": "了解保险责任", "understand_surrender_loss": "了解退保损失",
    "cooling_off_rights": "了解犹豫期权利", "payment_terms": "缴费期间与金额", "knows_is_insurance": "知道购买的是保险",
    "benefit_uncertainty": "利益不确定性", "ul_fees": "万能险费用", "investment_risk": "投资风险",
    "risk_statement_self_copied": "本人抄录风险提示语", "dual_recording_intent": "双录时投保意愿",
    "health_waiting_period": "健康险等待期", "satisfaction": "服务满意度", "contact_confirm": "联系方式确认",
}
ACTION_ZH = {"phone_corrected": "号码已更正", "appointment_set": "已约定回访时间", "explained": "已解释（客户签署解释单）",
             "mis_selling_handled": "销售误导已处理", "signed_questionnaire": "已收回签字问卷", "surrendered": "犹豫期内已退保",
             "overdue_explanation": "逾期情况说明"}
EVENT_ZH = {**ACTION_ZH, "opened": "创建工单", "assigned": "分派", "sla_normal": "时效恢复正常", "sla_warning": "进入预警",
            "sla_overdue": "已超时", "reclassified": "重新回访后关闭"}  # a case's history lines (what they record)
ROLE_ZH = {"branch": "机构处理人员", "supervisor": "主管", "compliance": "合规", "agent": "坐席", "admin": "管理员",
           "qa": "质检", "operator": "运维", "system": "系统"}
WHO_ZH = {"robot": "机器人", "caller": "客户", "agent": "坐席", "twilio": "系统", "system": "系统"}
CHANNEL_ZH = {"agency": "个险", "bancassurance": "银保", "intermediary": "中介", "telesales": "电销", "internet": "网销"}
PRODUCT_TYPE_ZH = {"traditional": "传统型", "participating": "分红型", "universal": "万能型",
                   "investment_linked": "投资连结型", "health": "健康险"}
END_REASON_ZH = {"completed": "问卷完成", "identity_failed": "身份核实不通过", "applicant_absent": "本人不在",
                 "not_received": "未收到合同", "refused": "拒访", "language_barrier": "语言沟通不畅",
                 "hangup": "中途挂断", "handed_off": "转人工"}
ANSWER_ZH = {"yes": "是", "no": "否", "clarified": "解释后确认", "unresolved": "解释后仍不清楚",
             "human_requested": "要求人工解释"}
INPUT_ZH = {"yes": "是", "no": "否", "repeat": "请重复", "human": "要求转人工", "unknown": "未识别", "silence": "无应答",
            "digits": "按键", "hangup": "挂断", "transferred": "已接通人工", "agent_unavailable": "人工未接通"}
HANDOFF_REASON_ZH = {"asked": "客户要求人工", "unresolved": "解释后仍有疑问", "human_first": "按规则由人工回访"}
AGENT_OUTCOME_ZH = {"clarified": "已解释清楚", "not_clarified": "未解释清楚"}
HOLD_REASON_ZH = {"duplicate_number": "重复号码", "wrong_number": "电话有误"}
RECORDING_ZH = {"pending": "待下载", "stored": "已保存", "absent": "无录音", "failed": "录音失败", "purged": "已过保存期删除"}
DIAL_ZH = {"completed": "已接通", "answered": "已接通", "busy": "占线", "no-answer": "无人接听", "failed": "呼叫失败",
           "canceled": "已取消"}

BY_KIND: dict[str, dict[str, str]] = {
    "result": RESULT_ZH, "reason": REASON_ZH, "task_status": TASK_STATUS_ZH, "call_outcome": OUTCOME_ZH,
    "end_reason": END_REASON_ZH, "case_status": CASE_STATUS_ZH, "case_type": CASE_TYPE_ZH, "sla": SLA_ZH,
    "action": EVENT_ZH, "product_type": PRODUCT_TYPE_ZH, "channel": CHANNEL_ZH, "topic": TOPIC_ZH,
    "answer": ANSWER_ZH, "input": INPUT_ZH, "handoff_reason": HANDOFF_REASON_ZH, "agent_outcome": AGENT_OUTCOME_ZH,
    "hold_reason": HOLD_REASON_ZH, "who": WHO_ZH, "recording": RECORDING_ZH, "dial": DIAL_ZH, "role": ROLE_ZH,
}


def zh(value: object, kind: str) -> str:
    """The Chinese word for a vocabulary value of `kind`; the value itself when there is none; empty for None."""
    if value is None:
        return ""
    text = str(value)
    return BY_KIND[kind].get(text, text)


def zh_list(values: list[str] | None, kind: str) -> str:
    """Several values (reason codes) in one line, joined by 、."""
    return "、".join(zh(v, kind) for v in values or [])


GLOBALS = {"sla_zh": SLA_ZH, "case_type_zh": CASE_TYPE_ZH, "case_status_zh": CASE_STATUS_ZH,
           "task_status_zh": TASK_STATUS_ZH, "result_zh": RESULT_ZH, "outcome_zh": OUTCOME_ZH, "reason_zh": REASON_ZH,
           "topic_zh": TOPIC_ZH, "action_zh": ACTION_ZH, "event_zh": EVENT_ZH, "who_zh": WHO_ZH,
           "channel_zh": CHANNEL_ZH, "product_type_zh": PRODUCT_TYPE_ZH, "role_zh": ROLE_ZH}
