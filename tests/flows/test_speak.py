from datetime import date
from decimal import Decimal

import pytest

from flows import speak


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元"),
        ("10", "十元"),
        ("100010", "十万零一十元"),
        ("1000000.05", "一百万元零五分"),
        ("3000.50", "三千元五角"),
        ("12.34", "十二元三角四分"),
        ("0.5", "五角"),
        ("0.05", "五分"),
        ("100.05", "一百元零五分"),
        ("2", "两元"),
        ("2000", "两千元"),
        ("12000", "一万两千元"),
        ("101", "一百零一元"),
        ("110", "一百一十元"),
        ("1010", "一千零一十元"),
        ("100500", "十万零五百元"),
        ("200000000", "两亿元"),
        ("100000001", "一亿零一元"),
        ("6000.004", "六千元"),
        ("6000.005", "六千元零一分"),
    ],
)
def test_amounts_in_yuan_jiao_fen(amount: str, words: str) -> None:
    assert speak.amount_words(Decimal(amount)) == words


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        speak.amount_words(Decimal("-1"))


def test_dates_years_and_terms() -> None:
    assert speak.month_day_words(date(2026, 12, 4)) == "十二月四日"
    assert speak.month_day_words(date(2026, 1, 10)) == "一月十日"
    assert speak.full_date_words(date(2026, 10, 20)) == "二〇二六年十月二十日"
    assert speak.term_words(None) == "终身"
    assert speak.term_words(20) == "二十年"
    assert speak.term_words(2) == "两年"


def test_payment_phrases() -> None:
    assert speak.payment_phrase("annual", Decimal("6000"), 10) == "每年交纳保费六千元，交费期限十年"
    assert speak.payment_phrase("monthly", Decimal("500"), 5) == "每月交纳保费五百元，交费期限五年"
    assert speak.payment_phrase("single", Decimal("30000"), 1) == "一次性交清保费三万元"


def test_honorifics_surnames_and_phone_digits() -> None:
    assert speak.honorific("M") == "先生"
    assert speak.honorific("F") == "女士"
    assert speak.surname("赵敏") == "赵"
    assert speak.surname("欧阳明") == "欧阳"
    assert speak.phone_digits("4000-123-456") == "四零零零幺二三四五六"
