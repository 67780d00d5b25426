"""The columns of the policy intake file (docs/policy-file.md): English identifiers and Chinese labels."""

from __future__ import annotations

from dataclasses import dataclass

from kit.vocab import Channel, Gender, PaymentFrequency, ProductType


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    label_zh: str
    required: bool


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("policy_no", "保单号", True),
    ColumnSpec("product_code", "险种代码", True),
    ColumnSpec("product_name", "险种名称", True),
    ColumnSpec("product_type", "产品类型", True),
    ColumnSpec("channel", "销售渠道", True),
    ColumnSpec("policy_term_years", "保险期间(年)", True),
    ColumnSpec("guaranteed_renewal", "保证续保", False),
    ColumnSpec("is_group", "团险", False),
    ColumnSpec("premium", "保费(元)", True),
    ColumnSpec("payment_frequency", "缴费方式", True),
    ColumnSpec("payment_years", "缴费年期", True),
    ColumnSpec("issue_date", "承保日期", True),
    ColumnSpec("receipt_signed_date", "回执签收日期", False),
    ColumnSpec("receipt_logged_date", "回执回销日期", False),
    ColumnSpec("cooling_off_days", "犹豫期(天)", False),
    ColumnSpec("applicant_name", "投保人姓名", True),
    ColumnSpec("applicant_gender", "投保人性别", True),
    ColumnSpec("applicant_birth_date", "投保人出生日期", True),
    ColumnSpec("applicant_id_no", "投保人证件号", True),
    ColumnSpec("applicant_phone", "投保人手机", True),
    ColumnSpec("applicant_phone2", "投保人备用电话", False),
    ColumnSpec("insured_name", "被保险人姓名", True),
    ColumnSpec("insured_is_applicant", "投被保人同一人", True),
    ColumnSpec("agent_code", "业务员代码", True),
    ColumnSpec("agent_name", "业务员姓名", True),
    ColumnSpec("agent_phone", "业务员电话", True),
    ColumnSpec("agent_is_applicant", "自保件", False),
    ColumnSpec("branch_code", "机构代码", True),
    ColumnSpec("branch_name", "机构名称", True),
    ColumnSpec("bank_name", "代理银行", False),
    ColumnSpec("dual_recorded", "双录", False),
)

BY_NAME: dict[str, ColumnSpec] = {c.name: c for c in COLUMNS}


def _header_key(text: str) -> str:
    """Headers compare without case, surrounding blanks, full-width brackets or a BOM."""
    return (
        text.replace("\ufeff", "")
        .strip()
        .replace("（", "(")
        .replace("）", ")")
        .replace(" ", "")
        .replace("\u3000", "")
        .lower()
    )


HEADER_ALIASES: dict[str, str] = {}
for _spec in COLUMNS:
    HEADER_ALIASES[_header_key(_spec.name)] = _spec.name
    HEADER_ALIASES[_header_key(_spec.label_zh)] = _spec.name


def column_for_header(header: str) -> str | None:
    return HEADER_ALIASES.get(_header_key(header))


def describe(column: str) -> str:
    spec = BY_NAME.get(column)
    return f"{column} ({spec.label_zh})" if spec else column


# Values accepted for enumerated columns: the identifier or the Chinese word used in the core system.
PRODUCT_TYPES: dict[str, ProductType] = {
    **{p.value: p for p in ProductType},
    "传统": ProductType.TRADITIONAL,
    "传统型": ProductType.TRADITIONAL,
    "普通型": ProductType.TRADITIONAL,
    "分红": ProductType.PARTICIPATING,
    "分红型": ProductType.PARTICIPATING,
    "万能": ProductType.UNIVERSAL,
    "万能型": ProductType.UNIVERSAL,
    "投连": ProductType.INVESTMENT_LINKED,
    "投资连结": ProductType.INVESTMENT_LINKED,
    "投资连结型": ProductType.INVESTMENT_LINKED,
    "健康": ProductType.HEALTH,
    "健康险": ProductType.HEALTH,
}
CHANNELS: dict[str, Channel] = {
    **{c.value: c for c in Channel},
    "个险": Channel.AGENCY,
    "银保": Channel.BANCASSURANCE,
    "经代": Channel.INTERMEDIARY,
    "中介": Channel.INTERMEDIARY,
    "电销": Channel.TELESALES,
    "网销": Channel.INTERNET,
}
PAYMENT_FREQUENCIES: dict[str, PaymentFrequency] = {
    **{f.value: f for f in PaymentFrequency},
    "趸交": PaymentFrequency.SINGLE,
    "趸缴": PaymentFrequency.SINGLE,
    "年交": PaymentFrequency.ANNUAL,
    "年缴": PaymentFrequency.ANNUAL,
    "半年交": PaymentFrequency.SEMIANNUAL,
    "半年缴": PaymentFrequency.SEMIANNUAL,
    "季交": PaymentFrequency.QUARTERLY,
    "季缴": PaymentFrequency.QUARTERLY,
    "月交": PaymentFrequency.MONTHLY,
    "月缴": PaymentFrequency.MONTHLY,
}
GENDERS: dict[str, Gender] = {"m": Gender.MALE, "f": Gender.FEMALE, "男": Gender.MALE, "女": Gender.FEMALE}
YES_NO: dict[str, bool] = {
    "y": True, "yes": True, "是": True, "1": True, "true": True,
    "n": False, "no": False, "否": False, "0": False, "false": False,
}
WHOLE_LIFE = {"whole_life", "终身"}
