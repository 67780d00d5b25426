"""What staff read, in Chinese: the vocabulary's labels and the console's date, money and phone formats
(docs/console.md, "Conventions"). Registered on the Jinja environment by console.app."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from kit.clock import BUSINESS_TZ

SLA_ZH = {"normal": "正常", "warning": "预警", "overdue": "超时"}
# The words of the seed documents and the core system (config.example.toml [cases.sla], intake/columns.py).
CASE_TYPE_ZH = {"verification_case": "核实件", "dialect_case": "方言件", "first_explanation_case": "一次沟通解释件",
                "second_explanation_case": "二次沟通解释件", "mis_selling_case": "销售误导件", "proxy_signature_case": "代签字件",
                "in_person_visit_case": "人工亲访件", "letter_case": "信函件", "contract_quality_case": "契约品质件"}
CASE_STATUS_ZH = {"open": "待处理", "in_progress": "处理中", "closed": "已办结", "cancelled": "已取消"}
TASK_STATUS_ZH = {"queued": "待拨打", "held": "暂停拨打", "dialing": "拨号中", "in_progress": "通话中",
                  "completed": "已完成", "cancelled": "已取消"}
RESULT_ZH = {"standard": "标准件", "sub_standard": "次标准件", "problem": "问题件", "verification": "核实件"}
OUTCOME_ZH = {"in_progress": "通话中", "completed": "已完成", "hangup": "客户挂断", "busy": "占线", "no_answer": "无人接听",
              "machine": "语音信箱", "failed": "呼叫失败", "canceled": "已取消"}
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
TOPIC_ZH = {"identity": "身份核实", "policy_received": "收到保单", "receipt_signed": "签收回执", "signed_in_person": "本人签名",
            "insured_signed": "被保险人签名", "truthful_disclosure": "如实告知", "read_documents": "阅读条款",
            "understand_coverage": "保障责任", "understand_surrender_loss": "退保损失", "cooling_off_rights": "犹豫期权利",
            "payment_terms": "缴费方式与期限", "knows_is_insurance": "知悉为保险产品", "benefit_uncertainty": "收益不确定性",
            "ul_fees": "万能险费用", "investment_risk": "投资风险", "risk_statement_self_copied": "亲自抄录风险提示语",
            "dual_recording_intent": "双录意愿", "health_waiting_period": "等待期", "satisfaction": "满意度",
            "contact_confirm": "联系方式确认"}
ACTION_ZH = {"phone_corrected": "号码已更正", "appointment_set": "已约定回访时间", "explained": "已解释（客户签署解释单）",
             "mis_selling_handled": "销售误导已处理", "signed_questionnaire": "已收回签字问卷", "surrendered": "犹豫期内已退保",
             "overdue_explanation": "逾期情况说明"}
EVENT_ZH = {**ACTION_ZH, "opened": "创建工单", "assigned": "分派", "sla_normal": "时效恢复正常", "sla_warning": "进入预警",
            "sla_overdue": "已超时", "reclassified": "重新回访后关闭"}  # a case's history lines (what they record)
ROLE_ZH = {"branch": "机构处理人员", "supervisor": "主管", "compliance": "合规", "agent": "坐席", "admin": "管理员",
           "qa": "质检", "operator": "运维", "system": "系统"}
WHO_ZH = {"robot": "机器人", "caller": "客户", "agent": "人工坐席", "twilio": "线路", "system": "系统"}
CHANNEL_ZH = {"agency": "个险", "bancassurance": "银保", "intermediary": "中介", "telesales": "电销", "internet": "网销"}
PRODUCT_TYPE_ZH = {"traditional": "传统型", "participating": "分红型", "universal": "万能型",
                   "investment_linked": "投资连结型", "health": "健康险"}


def local_time(at: datetime | None) -> str:
    """An instant in Beijing time, the way staff read it: 2026-11-29 14:05; an empty string for no time."""
    return at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def local_date(day: date | datetime | None) -> str:
    if day is None:
        return ""
    return (day.astimezone(BUSINESS_TZ).date() if isinstance(day, datetime) else day).isoformat()


def money(amount: Decimal | float | int | None) -> str:
    """¥5,000.00"""
    return "" if amount is None else f"¥{Decimal(str(amount)):,.2f}"


def phone(e164: str | None) -> str:
    """+8613912345678 → 139 1234 5678 (a mainland mobile as staff dial it); anything else as stored."""
    if e164 and e164.startswith("+86") and len(e164) == 14 and e164[3] == "1":
        digits = e164[3:]
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return e164 or ""


FILTERS = {"local_time": local_time, "local_date": local_date, "money": money, "phone": phone}
LABELS = {"sla_zh": SLA_ZH, "case_type_zh": CASE_TYPE_ZH, "case_status_zh": CASE_STATUS_ZH,
          "task_status_zh": TASK_STATUS_ZH, "result_zh": RESULT_ZH, "outcome_zh": OUTCOME_ZH, "reason_zh": REASON_ZH,
          "topic_zh": TOPIC_ZH, "action_zh": ACTION_ZH, "event_zh": EVENT_ZH, "who_zh": WHO_ZH,
          "channel_zh": CHANNEL_ZH, "product_type_zh": PRODUCT_TYPE_ZH, "role_zh": ROLE_ZH, "local_time": local_time}
