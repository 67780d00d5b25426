from datetime import UTC, datetime, timedelta

import pytest

from kit.clock import BUSINESS_TZ, FrozenClock, business_today, isoformat_local


def test_business_today_is_the_shanghai_date() -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 17, 30, tzinfo=UTC))  # 01:30 on the 25th in Shanghai
    assert business_today(clock).isoformat() == "2026-11-25"


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=BUSINESS_TZ))
    clock.advance(timedelta(hours=3))
    assert isoformat_local(clock.now()) == "2026-11-25T12:00:00+08:00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 11, 25, 9, 0))
