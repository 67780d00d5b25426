"""How the console writes values for people (docs/console.md): times in Asia/Shanghai `2026-11-29 14:05`,
dates `2026-12-01`, money `¥5,000.00`, mainland mobiles `139 1234 5678`, ID numbers masked `370102********1234`.
Registered as Jinja filters (with the vocabulary's `zh`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from console.labels import zh, zh_list
from intake.identity import mask_id as mask_id  # re-exported: the import messages mask IDs too
from kit.clock import BUSINESS_TZ


def local_time(at: datetime | None) -> str:
    """An instant in Beijing time, the way staff read it: 2026-11-29 14:05; empty for none."""
    return at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def day(value: date | datetime | None) -> str:
    """A date (an instant: its Beijing date): 2026-12-01; empty for none."""
    if value is None:
        return ""
    return (value.astimezone(BUSINESS_TZ).date() if isinstance(value, datetime) else value).isoformat()


def money(amount: Decimal | float | int | None) -> str:
    """¥5,000.00 (yuan, two decimals, thousands separated)."""
    return "" if amount is None else f"¥{Decimal(str(amount)):,.2f}"


def phone(e164: str | None) -> str:
    """+8613912345678 → 139 1234 5678 (a mainland mobile as staff dial it); anything else as stored."""
    if e164 and e164.startswith("+86") and len(e164) == 14 and e164[3] == "1":
        digits = e164[3:]
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return e164 or ""


def percent(value: float | None) -> str:
    """A rate as the reports print it (huifang report kpi): 62.5%; - where there is no denominator."""
    return "-" if value is None else f"{value:.1%}"


def ratio(numerator: int, denominator: int) -> str:
    """numerator / denominator as a percentage: 62.5%; - for a zero denominator."""
    return percent(numerator / denominator if denominator else None)


FILTERS: dict[str, Callable[..., Any]] = {"local_time": local_time, "day": day, "money": money, "phone": phone,
                                          "zh": zh, "zh_list": zh_list, "percent": percent, "ratio": ratio}
GLOBAL_FUNCTIONS: dict[str, Callable[..., Any]] = {"local_time": local_time}
