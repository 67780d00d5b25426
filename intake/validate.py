"""Row validation: one raw row → a PolicyRecord, or every problem in it with its column and a message in English
and in Chinese (each message is an entry of intake.problems)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TypeVar

from intake import columns as cols
from intake import problems as p
from intake.identity import looks_like_resident_id, mask_id, parse_resident_id
from intake.phones import normalize_phone
from intake.problems import Problem, ValueProblem
from intake.reader import RawRow
from intake.record import PolicyRecord, RowError
from kit.settings import Settings
from kit.vocab import Gender, PaymentFrequency, ProductType

T = TypeVar("T")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$|^(\d{4})(\d{2})(\d{2})$")


class _Row:
    """Collects the errors of one row while its fields are parsed."""

    def __init__(self, raw: RawRow) -> None:
        self.raw = raw
        self.values = raw.values
        self.errors: list[RowError] = []

    def fail(self, column: str, problem: Problem, **params: object) -> None:
        self.errors.append(problem.at(self.raw.row, column, **params))

    def text(self, column: str) -> str:
        return self.values.get(column, "")  # trimmed by the reader (intake.reader._row_dict)

    def required(self, column: str) -> str | None:
        value = self.text(column)
        if not value:
            self.fail(column, p.REQUIRED)
            return None
        return value

    def parse(self, column: str, parser: Callable[[str], T], *, required: bool) -> T | None:
        value = self.required(column) if required else (self.text(column) or None)
        if value is None:
            return None
        try:
            return parser(value)
        except ValueProblem as exc:
            self.fail(column, exc.problem, **exc.params)
            return None


def accepted_words(mapping: Mapping[str, T]) -> str:
    """Each value's identifier with the first Chinese word the file may use for it, in the enumeration's order:
    `traditional/传统, participating/分红, …` (docs/policy-file.md lists every accepted word)."""
    words: dict[str, str] = {}
    for key, value in mapping.items():
        name = str(value)
        if name not in words:
            words[name] = name
        elif "/" not in words[name] and not key.isascii():
            words[name] = f"{name}/{key}"
    return ", ".join(words.values())


def chinese_words(mapping: Mapping[str, T]) -> str:
    """Each value's first Chinese word (its identifier when it has none), in the enumeration's order:
    `传统、分红、…` (what the Chinese message offers; the identifiers are accepted too)."""
    words: dict[str, str] = {}
    for key, value in mapping.items():
        name = str(value)
        if name not in words or (words[name] == name and not key.isascii()):
            words[name] = name if key.isascii() else key
    return "、".join(words.values())


def _choice(mapping: Mapping[str, T], what: str, allowed: str | None = None,
            allowed_zh: str | None = None) -> Callable[[str], T]:
    allowed = allowed or accepted_words(mapping)
    allowed_zh = allowed_zh or chinese_words(mapping)

    def parse(value: str) -> T:
        key = value.strip()
        found = mapping.get(key.lower(), mapping.get(key))
        if found is None:
            raise ValueProblem(p.UNKNOWN_VALUE, value=value, what=what, allowed=allowed, allowed_zh=allowed_zh)
        return found

    return parse


@lru_cache(maxsize=65536)
def parse_date(value: str) -> date:
    """A date in one of the accepted spellings (cached: a file repeats its issue and receipt days)."""
    match = _DATE.match(value.strip())
    if not match:
        raise ValueProblem(p.NOT_A_DATE, value=value)
    parts = [p for p in match.groups() if p is not None]
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise ValueProblem(p.NOT_A_CALENDAR_DATE, value=value) from None


def _positive_int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueProblem(p.NOT_A_WHOLE_NUMBER, value=value) from None
    if number < 1:
        raise ValueProblem(p.BELOW_ONE, number=number)
    return number


def _term(value: str) -> int | None:
    if value.strip().lower() in cols.WHOLE_LIFE:
        return None
    return _positive_int(value)


def _premium(value: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").replace("，", "").strip())
    except InvalidOperation:
        raise ValueProblem(p.NOT_AN_AMOUNT, value=value) from None
    if not amount.is_finite() or amount <= 0:
        raise ValueProblem(p.NOT_POSITIVE, value=value)
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueProblem(p.TOO_MANY_DECIMALS, value=value)
    return amount


_yes_no = _choice(cols.YES_NO, "yes/no value", "Y / N / 是 / 否", "是、否、Y、N")
# built once (their messages list the accepted words): a parser made per row cost a tenth of the import's time
_product_type = _choice(cols.PRODUCT_TYPES, "product type")
_channel = _choice(cols.CHANNELS, "channel")
_payment_frequency = _choice(cols.PAYMENT_FREQUENCIES, "payment frequency")
_gender = _choice(cols.GENDERS, "gender", "M/男, F/女", "男、女、M、F")


def validate_row(raw: RawRow, settings: Settings, today: date) -> PolicyRecord | list[RowError]:
    r = _Row(raw)
    region = settings.phone.region
    policy_no = r.required("policy_no")
    product_code = r.required("product_code")
    product_name = r.required("product_name")
    product_type = r.parse("product_type", _product_type, required=True)
    channel = r.parse("channel", _channel, required=True)
    term = r.parse("policy_term_years", _term, required=True)
    guaranteed_renewal = bool(r.parse("guaranteed_renewal", _yes_no, required=False))
    is_group = bool(r.parse("is_group", _yes_no, required=False))
    premium = r.parse("premium", _premium, required=True)
    frequency = r.parse("payment_frequency", _payment_frequency, required=True)
    payment_years = r.parse("payment_years", _positive_int, required=True)
    issue_date = r.parse("issue_date", parse_date, required=True)
    signed = r.parse("receipt_signed_date", parse_date, required=False)
    logged = r.parse("receipt_logged_date", parse_date, required=False)
    cooling_off_days = r.parse("cooling_off_days", _positive_int, required=False)
    applicant_name = r.required("applicant_name")
    gender = r.parse("applicant_gender", _gender, required=True)
    birth = r.parse("applicant_birth_date", parse_date, required=True)
    id_no = r.required("applicant_id_no")
    phone_text = r.required("applicant_phone")
    phone2_text = r.text("applicant_phone2")
    insured_name = r.required("insured_name")
    insured_is_applicant = r.parse("insured_is_applicant", _yes_no, required=True)
    agent_code = r.required("agent_code")
    agent_name = r.required("agent_name")
    agent_phone_text = r.required("agent_phone")
    agent_is_applicant = bool(r.parse("agent_is_applicant", _yes_no, required=False))
    branch_code = r.required("branch_code")
    branch_name = r.required("branch_name")
    bank_name = r.text("bank_name") or None
    dual_recorded = r.parse("dual_recorded", _yes_no, required=False)

    # Cross-field rules: impossible dates and values that contradict each other.
    if frequency is PaymentFrequency.SINGLE and payment_years not in (None, 1):
        r.fail("payment_years", p.SINGLE_PREMIUM_YEARS, years=payment_years)
    if issue_date and issue_date > today:
        r.fail("issue_date", p.IN_THE_FUTURE, day=issue_date)
    if birth and issue_date and birth > issue_date:
        r.fail("applicant_birth_date", p.BIRTH_AFTER_ISSUE, birth=birth, issue=issue_date)
    if signed and issue_date and signed < issue_date:
        r.fail("receipt_signed_date", p.SIGNED_BEFORE_ISSUE, signed=signed, issue=issue_date)
    if signed and signed > today:
        r.fail("receipt_signed_date", p.IN_THE_FUTURE, day=signed)
    if logged and not signed and not r.text("receipt_signed_date"):
        r.fail("receipt_signed_date", p.SIGNED_MISSING, logged=logged)
    if logged and signed and logged < signed:
        r.fail("receipt_logged_date", p.LOGGED_BEFORE_SIGNED, logged=logged, signed=signed)
    if logged and logged > today:
        r.fail("receipt_logged_date", p.IN_THE_FUTURE, day=logged)
    if id_no and looks_like_resident_id(id_no.upper()):
        try:
            resident = parse_resident_id(id_no)
            id_no = resident.number
            if birth and resident.birth_date != birth:
                r.fail("applicant_id_no", p.ID_BIRTH_MISMATCH, value=mask_id(id_no), id_birth=resident.birth_date, birth=birth)
            if gender and resident.male != (gender is Gender.MALE):
                r.fail("applicant_id_no", p.ID_SEX_MISMATCH, value=mask_id(id_no), id_sex="男" if resident.male else "女",
                       gender=r.text("applicant_gender"))
        except ValueProblem as exc:
            r.fail("applicant_id_no", exc.problem, **exc.params)
    elif id_no and id_no.isdigit() and len(id_no) in (17, 19):
        r.fail("applicant_id_no", p.ID_LENGTH, value=mask_id(id_no), length=len(id_no))
    days = 0
    if product_type is not None:
        days = cooling_off_days or settings.cooling_off.default_days[product_type]
        minimum = settings.cooling_off.health_minimum_days
        if product_type is ProductType.HEALTH and days < minimum:
            r.fail("cooling_off_days", p.HEALTH_COOLING_OFF, days=days, minimum=minimum)
    if r.errors:
        return r.errors
    assert policy_no
    assert product_code
    assert product_name
    assert product_type
    assert channel
    assert premium is not None
    assert frequency
    assert payment_years
    assert issue_date
    assert applicant_name
    assert gender
    assert birth
    assert id_no
    assert phone_text
    assert insured_name
    assert insured_is_applicant is not None
    assert agent_code
    assert agent_name
    assert agent_phone_text
    assert branch_code
    assert branch_name
    return PolicyRecord(
        row=raw.row,
        policy_no=policy_no,
        product_code=product_code,
        product_name=product_name,
        product_type=product_type,
        channel=channel,
        policy_term_years=term,
        guaranteed_renewal=guaranteed_renewal,
        is_group=is_group,
        premium=premium,
        payment_frequency=frequency,
        payment_years=payment_years,
        issue_date=issue_date,
        receipt_signed_date=signed,
        receipt_logged_date=logged,
        cooling_off_days=days,
        applicant_name=applicant_name,
        applicant_gender=gender,
        applicant_birth_date=birth,
        applicant_id_no=id_no,
        applicant_phone=normalize_phone(phone_text, region),
        applicant_phone2=normalize_phone(phone2_text, region) if phone2_text else None,
        insured_name=insured_name,
        insured_is_applicant=insured_is_applicant,
        agent_code=agent_code,
        agent_name=agent_name,
        agent_phone=normalize_phone(agent_phone_text, region),
        agent_is_applicant=agent_is_applicant,
        branch_code=branch_code,
        branch_name=branch_name,
        bank_name=bank_name,
        dual_recorded=dual_recorded,
    )
