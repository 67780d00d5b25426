"""The flow-engine cache many request threads share."""

from __future__ import annotations

from typing import cast

from calls.context import EngineCache
from flows.engine import FlowEngine
from tests.threads import run_together


def test_the_engine_cache_stays_bounded_and_consistent_under_threads() -> None:
    cache = EngineCache(size=50)
    engines = [cast(FlowEngine, object()) for _ in range(400)]

    def work(offset: int) -> None:
        for i in range(offset, 400, 8):
            cache.put((i,), engines[i])
            got = cache.get((i,))
            assert got is None or got is engines[i]  # evicted by another thread, or the one put

    assert run_together(8, work) == []
    assert len(cache) == 50
    kept = [i for i in range(400) if cache.get((i,)) is not None]
    assert all(cache.get((i,)) is engines[i] for i in kept)
