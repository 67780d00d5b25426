"""How the console writes values for people (docs/console.md): times in Asia/Shanghai `2026-11-29 14:05`,
dates `2026-12-01`, money `¥5,000.00`, ID numbers masked `370102********1234`. Registered as Jinja filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kit.clock import BUSINESS_TZ


def mask_id(id_no: str) -> str:
    """370102********1234: the region and the last four, nothing in between (docs/console.md)."""
    return id_no[:6] + "*" * max(0, len(id_no) - 10) + id_no[-4:] if len(id_no) > 10 else "*" * len(id_no)


def local_time(value: datetime | None) -> str:
    """A moment in Beijing time to the minute; empty for none."""
    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def money(value: Decimal | int | float | None) -> str:
    """¥5,000.00 (yuan, two decimals, thousands separated)."""
    return f"¥{Decimal(str(value)):,.2f}" if value is not None else ""


FILTERS: dict[str, Callable[..., Any]] = {"local_time": local_time, "day": day, "money": money}
