"""The case desk's words: the vocabulary's identifiers in Chinese, the SLA in words, times in Beijing time."""

from __future__ import annotations

from datetime import datetime, timedelta

from kit.clock import BUSINESS_TZ

SLA_ZH = {"normal": "正常", "warning": "预警", "overdue": "超时"}
TYPE_ZH = {"verification_case": "核实件", "dialect_case": "方言件", "first_explanation_case": "一次解释件",
           "second_explanation_case": "二次解释件", "mis_selling_case": "销售误导件", "proxy_signature_case": "代签名件",
           "in_person_visit_case": "人工亲访件", "letter_case": "信函件", "contract_quality_case": "合同质量件"}
ACTION_ZH = {"phone_corrected": "号码已更正", "appointment_set": "已约定回访时间", "explained": "已解释（客户签署解释单）",
             "mis_selling_handled": "销售误导已处理", "signed_questionnaire": "已收回签字问卷", "surrendered": "犹豫期内已退保",
             "overdue_explanation": "逾期情况说明"}
HISTORY_ZH = {**ACTION_ZH, "opened": "创建工单", "assigned": "分派", "sla_normal": "时效恢复正常",
              "sla_warning": "进入预警", "sla_overdue": "已超时"}  # a case's history lines (what they record)
REASON_ZH = {  # docs/domain.md §9.2
    "thought_deposit": "误认为存款（不知是保险）", "unclear_coverage": "不清楚保险责任/责任免除",
    "unclear_cooling_off_or_surrender_loss": "不清楚犹豫期/退保损失", "unclear_payment_or_term": "不清楚缴费期间/保险期间",
    "unclear_benefit_uncertainty": "不清楚利益不确定性", "unclear_ul_fees": "不清楚万能险费用",
    "suspected_mis_selling": "疑似误导", "explanation_needed": "需沟通解释", "proxy_signature": "代签字",
    "proxy_transcription": "代抄录", "wrong_number": "电话有误", "duplicate_number": "重复号码", "refused": "拒访",
    "policy_data_mismatch": "保单信息有误", "language_barrier": "语言沟通不畅", "unreachable": "联系不上投保人",
    "not_received": "未收到合同", "applicant_absent": "本人不在", "identity_failed": "核实身份不通过",
    "claims_surrendered": "客户称已退保", "claims_already_called": "客户称已回访过", "recording_missing": "录音缺失",
}
CASE_STATUS_ZH = {"open": "待处理", "in_progress": "处理中", "closed": "已办结", "cancelled": "已取消"}
TASK_STATUS_ZH = {"queued": "待拨打", "held": "暂停拨打", "dialing": "拨号中", "in_progress": "通话中",
                  "completed": "已完成", "cancelled": "已取消"}
ROLE_ZH = {"branch": "机构处理人员", "supervisor": "主管", "compliance": "合规", "agent": "坐席", "admin": "管理员",
           "qa": "质检", "operator": "运维", "system": "系统"}
ASSIGNEE_ZH = {"anyone": "全部", "me": "分派给我的", "unassigned": "未分派"}


def local_time(at: datetime) -> str:
    """An instant in Beijing time, the way staff read it: 2026-11-29 14:05."""
    return at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def sla_words(status: str, due: datetime, now: datetime) -> str:
    """The SLA in words beside its tag: time left, or how long overdue (剩余 5 小时 / 已超时 2 天)."""
    gap = due - now if status != "overdue" else now - due
    if gap >= timedelta(days=1):
        amount = f"{gap.days} 天"
    elif gap >= timedelta(hours=1):
        amount = f"{int(gap.total_seconds() // 3600)} 小时"
    else:
        amount = f"{max(1, int(gap.total_seconds() // 60))} 分钟"
    return f"已超时 {amount}" if status == "overdue" else f"剩余 {amount}"
