"""The flow-engine cache many request threads share."""

from __future__ import annotations

import threading
from typing import cast

from calls.context import EngineCache
from flows.engine import FlowEngine


def test_the_engine_cache_stays_bounded_and_consistent_under_threads() -> None:
    cache = EngineCache(size=50)
    engines = [cast(FlowEngine, object()) for _ in range(400)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        start.wait()
        try:
            for i in range(offset, 400, 8):
                cache.put((i,), engines[i])
                got = cache.get((i,))
                assert got is None or got is engines[i]  # evicted by another thread, or the one put
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) == 50
    kept = [i for i in range(400) if cache.get((i,)) is not None]
    assert all(cache.get((i,)) is engines[i] for i in kept)
