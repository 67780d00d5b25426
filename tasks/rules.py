"""Pure rules about a callback task's timing."""

from __future__ import annotations

from datetime import date


def is_late(*, deadline: date, completed_on: date | None, today: date) -> bool:
    """Rule 46: a callback finished after the cooling-off end, or still open past it, is late."""
    return (completed_on or today) > deadline
