"""What staff read instead of the codes: the vocabulary's Chinese words (docs/console.md). One table per kind;
`zh(value, kind)` is the Jinja filter `{{ call.result_class | zh('result') }}` and the tables are also Jinja
globals (`sla_zh[...]`). An unknown value shows as it is: nothing is hidden because a word is missing."""

from __future__ import annotations

from channels.sequence import CHANNEL_ZH as CALLBACK_CHANNEL_ZH
from flows.words_zh import REASON_ZH, RESULT_ZH, TOPIC_ZH

SLA_ZH = {"normal": "正常", "warning": "预警", "overdue": "超时"}
# The words of the seed documents and the core system (config.example.toml [cases.sla], intake/columns.py).
CASE_TYPE_ZH = {"verification_case": "核实件", "dialect_case": "方言件", "first_explanation_case": "一次沟通解释件",
                "second_explanation_case": "二次沟通解释件", "mis_selling_case": "销售误导件", "proxy_signature_case": "代签字件",
                "in_person_visit_case": "人工亲访件", "letter_case": "信函件", "contract_quality_case": "契约品质件"}
CASE_STATUS_ZH = {"open": "待处理", "in_progress": "处理中", "closed": "已办结", "cancelled": "已撤销"}
TASK_STATUS_ZH = {"queued": "待拨打", "held": "暂停拨打", "dialing": "拨号中", "in_progress": "通话中",
                  "completed": "已完成", "cancelled": "已取消"}
OUTCOME_ZH = {"in_progress": "通话中", "completed": "已完成", "hangup": "中途挂断", "busy": "占线", "no_answer": "无人接听",
              "machine": "答录机", "failed": "呼叫失败", "canceled": "已取消"}
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
                 "hangup": "中途挂断", "handed_off": "转人工",
                 "link_requested": "改用短信链接"}
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
# the audit trail's actions (recordings.audit, accounts.service, the console's exports)
AUDIT_ACTION_ZH = {"find": "查询录音", "export": "导出证据包", "playback": "收听录音", "purge": "删除录音", "verify": "校验录音",
                   "dispute": "登记争议", "case_export": "导出工单", "audit_export": "导出审计日志", "user_added": "新增用户",
                   "agent_line_set": "设置坐席线路", "password_set": "设置密码", "user_disabled": "停用用户",
                   "user_enabled": "启用用户", "login": "登录", "login_failed": "登录失败", "account_locked": "账户锁定"}
AUDIT_ACTION_ZH.update(dialer_paused="暂停拨号", dialer_resumed="恢复拨号")  # dialer.controls
AUDIT_ACTION_ZH.update(snapshot="查看电子化回访页面", agent_warning="业务员预警短信",  # recordings.snapshots, cases.agent_notices
                       ecallback_link="发送回访链接")  # ecallback.links
AUDIT_ACTION_ZH.update(notify_resend="重新发送结果通知", retention_prune="清理过期结果通知")  # notifications
BY_KIND["audit_action"] = AUDIT_ACTION_ZH
# the outbox's event types (integration.events.EventType): the result notifications page
BY_KIND["notification_type"] = {"task.result": "回访结果", "case.opened": "工单开立", "case.closed": "工单办结"}
AUDIT_ACTION_ZH["channel"] = "转换回访方式"  # channels.switch
# the callback's channel (回访方式: kit.vocab.CallbackChannel), not the sales channel (渠道, CHANNEL_ZH)
BY_KIND["callback_channel"] = CALLBACK_CHANNEL_ZH
# whether a recording can be listened to now (recordings.playback.Availability)
BY_KIND["availability"] = {"playable": "已保存", "pending": "待下载", "absent": "无录音", "failed": "录音失败",
                           "purged": "已过保存期删除", "missing": "文件缺失"}


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
GLOBALS["audit_action_zh"] = AUDIT_ACTION_ZH
GLOBALS["callback_channel_zh"] = CALLBACK_CHANNEL_ZH
