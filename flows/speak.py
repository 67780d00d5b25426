"""Policy facts as a Chinese caller hears them: amounts, counts, dates, honorifics (zh-CN)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零一二三四五六七八九"
_SECTION_UNITS = ("", "万", "亿", "万亿")
_PLACE_UNITS = ("", "十", "百", "千")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "夏侯", "令狐", "宇文", "澹台")


def _section(value: int) -> str:
    """0 < value < 10000, read with 千百十 and inner zeros collapsed to one 零."""
    out: list[str] = []
    pending_zero = False
    for place in range(3, -1, -1):
        digit = value // 10**place % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        word = "两" if digit == 2 and place >= 2 else DIGITS[digit]
        out.append(word + _PLACE_UNITS[place])
    return "".join(out)


def integer_words(value: int) -> str:
    """12 → 十二, 100010 → 十万零一十, 2000 → 两千, 20000 → 两万."""
    if value < 0:
        raise ValueError("negative numbers are not read")
    if value == 0:
        return "零"
    sections: list[int] = []
    while value:
        sections.append(value % 10000)
        value //= 10000
    if len(sections) > len(_SECTION_UNITS):
        raise ValueError("number too large to read")
    out: list[str] = []
    need_zero = False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or section < 1000):
            out.append("零")
        words = "两" if section == 2 and index > 0 else _section(section)
        out.append(words + _SECTION_UNITS[index])
        need_zero = False
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text


def amount_words(amount: Decimal | int | str) -> str:
    """Money in yuan, jiao and fen: 3000.50 → 三千元五角, 1000000.05 → 一百万元零五分, 0 → 零元."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value < 0:
        raise ValueError("negative amounts are not read")
    yuan = int(value)
    cents = int((value - yuan) * 100)
    jiao, fen = divmod(cents, 10)
    parts: list[str] = []
    if yuan or not cents:
        parts.append(("两" if yuan == 2 else integer_words(yuan)) + "元")
    if jiao:
        parts.append(DIGITS[jiao] + "角")
    if fen:
        parts.append(("零" if yuan and not jiao else "") + DIGITS[fen] + "分")
    return "".join(parts)


def count_words(value: int) -> str:
    """Plain counts such as years or days: 20 → 二十, 2 → 两 is not used for counts before 年 (二十年, 两年)."""
    return "两" if value == 2 else integer_words(value)


def year_words(year: int) -> str:
    """2026 → 二〇二六 (years are read digit by digit)."""
    return "".join("〇" if ch == "0" else DIGITS[int(ch)] for ch in str(year))


def month_day_words(day: date) -> str:
    """2026-12-04 → 十二月四日."""
    return f"{integer_words(day.month)}月{integer_words(day.day)}日"


def full_date_words(day: date) -> str:
    """2026-12-04 → 二〇二六年十二月四日."""
    return f"{year_words(day.year)}年{month_day_words(day)}"


def phone_digits(number: str) -> str:
    """A phone number read digit by digit, 1 as 幺 the way numbers are read on the phone: 95519 → 九五五幺九."""
    return "".join("幺" if ch == "1" else DIGITS[int(ch)] for ch in number if ch.isdigit())


def for_reading(text: str, hotline: str) -> str:
    """A text the robot speaks, as a reader sees it (a web page, a letter): the hotline, spelled digit by digit
    for the ear (四零零零幺二三…), written as configured (4000-123-456); every other word is the robot's."""
    return text.replace(phone_digits(hotline), hotline) if hotline else text


def honorific(gender: str) -> str:
    return "先生" if gender.upper() in ("M", "男") else "女士"


def surname(full_name: str) -> str:
    name = full_name.strip()
    for compound in COMPOUND_SURNAMES:
        if name.startswith(compound):
            return compound
    return name[:1]


def term_words(term_years: int | None) -> str:
    """Policy term: 终身 for whole life, else 二十年."""
    return "终身" if term_years is None else f"{count_words(term_years)}年"


FREQUENCY_WORDS = {
    "annual": "每年",
    "semiannual": "每半年",
    "quarterly": "每季度",
    "monthly": "每月",
}


def payment_phrase(frequency: str, premium: Decimal, payment_years: int) -> str:
    """How the premium is paid, as read back to the applicant (seed 青岛话术 三)."""
    if frequency == "single":
        return f"一次性交清保费{amount_words(premium)}"
    period = FREQUENCY_WORDS[frequency]
    return f"{period}交纳保费{amount_words(premium)}，交费期限{count_words(payment_years)}年"
