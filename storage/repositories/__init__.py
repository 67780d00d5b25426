"""Queries live here. Repositories never commit; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

IN_CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare


def chunked(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
