"""The questionnaire vocabulary in the words staff and case files use (zh-CN): result classes, reason codes and
topics. The robot writes case details with them; the console shows them (console.labels)."""

from __future__ import annotations

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
    "ecallback_chosen": "投保人选择短信链接回访",
}
REASON_ZH = {  # docs/domain.md §9.2
    "thought_deposit": "误认为存款（不知是保险）", "unclear_coverage": "不清楚保险责任/责任免除",
    "unclear_cooling_off_or_surrender_loss": "不清楚犹豫期/退保损失", "unclear_payment_or_term": "不清楚缴费期间/保险期间",
    "unclear_benefit_uncertainty": "不清楚利益不确定性", "unclear_ul_fees": "不清楚万能险费用",
    "suspected_mis_selling": "疑似误导", "explanation_needed": "需沟通解释", "proxy_signature": "代签字",
    "proxy_transcription": "代抄录", "wrong_number": "电话有误", "duplicate_number": "重复号码", "refused": "拒访",
    "policy_data_mismatch": "保单信息有误", "language_barrier": "语言沟通不畅", "unreachable": "联系不上投保人",
    "not_received": "未收到合同", "applicant_absent": "本人不在", "identity_failed": "核实身份不通过",
    "claims_surrendered": "客户称已退保", "recording_missing": "录音缺失",
    "ecallback_chosen": "投保人选择短信链接回访",
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
