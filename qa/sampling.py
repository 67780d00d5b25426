"""The monthly quality sample (docs/domain.md §10): per branch, a reproducible random draw of the period's
completed callbacks, stratified by result class × callback channel with proportional allocation, and of its
closed problem cases. A call or a case already drawn (any period) is never drawn again."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.kpi import PROBLEM_CASE_TYPES, Month, ReportError
from kit.actor import Actor, Role
from kit.settings import QaSettings
from storage.models import QaSample
from storage.repositories import qa as qa_repo

SAMPLERS = frozenset({Role.OPERATOR, Role.SYSTEM})  # the CLI and the dialer's job draw; reviewers do not


class SamplingError(ValueError):
    """A period or a rate the draw cannot take (the message says which)."""


@dataclass(frozen=True)
class SampleSettings:
    call_rate: float
    call_min: int
    case_rate: float
    case_min: int

    @classmethod
    def from_settings(cls, qa: QaSettings) -> SampleSettings:
        return cls(call_rate=qa.call_rate, call_min=qa.call_min, case_rate=qa.case_rate, case_min=qa.case_min)


@dataclass(frozen=True)
class DrawSummary:
    period: str
    calls: int
    cases: int
    by_branch: dict[str, dict[str, int]] = field(default_factory=dict)  # branch code → {"calls": n, "cases": n}

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "calls": self.calls, "cases": self.cases,
                "by_branch": {code: dict(counts) for code, counts in sorted(self.by_branch.items())}}


def parse_period(text: str) -> Month:
    try:
        return Month.parse(text)
    except ReportError:
        raise SamplingError(f"period {text!r}: write it as YYYY-MM, e.g. 2026-11") from None


def previous_period(today: date) -> str:
    """The month before `today`'s, as YYYY-MM."""
    return f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"


def sampled(session: Session, period: str) -> bool:
    """Whether the period has a sample already (the monthly job draws once)."""
    return session.scalar(select(QaSample.id).where(QaSample.period == period).limit(1)) is not None


def quota(population: int, rate: float, minimum: int) -> int:
    """How many of a branch's `population` to draw: rate × population rounded up, at least `minimum`, at most all."""
    wanted = math.ceil(population * rate - 1e-9)
    return min(population, max(wanted, minimum))


def allocate(sizes: Mapping[str, int], total: int) -> dict[str, int]:
    """`total` shared among strata in proportion to their sizes (largest remainders; ties by stratum name)."""
    population = sum(sizes.values())
    if not population:
        return dict.fromkeys(sizes, 0)
    exact = {name: total * size / population for name, size in sizes.items()}
    shares = {name: math.floor(value) for name, value in exact.items()}
    left = total - sum(shares.values())
    for name in sorted(exact, key=lambda n: (-(exact[n] - shares[n]), n))[:left]:
        shares[name] += 1
    return shares


def pick(ids: Sequence[int], k: int, seed: str, *key: str) -> list[int]:
    """k of `ids`, drawn at random but the same for the same seed, key and ids (in any order)."""
    rng = random.Random("|".join((seed, *key)))
    return sorted(rng.sample(sorted(ids), k))


def stratified(population: Mapping[str, Sequence[int]], total: int, seed: str, *key: str) -> dict[str, list[int]]:
    """`total` drawn from the strata in proportion to their sizes, each stratum drawn on its own."""
    shares = allocate({name: len(ids) for name, ids in population.items()}, total)
    return {name: pick(population[name], shares[name], seed, *key, name) for name in sorted(population)}


def draw(session: Session, actor: Actor, period: str, settings: SampleSettings, *, seed: str,
         now: datetime) -> DrawSummary:
    """Draw the period's sample and store it (flushed, not committed). Per branch: the callbacks finished in the
    period (business time) with a result class, by result class × channel; the problem cases closed in it, by
    type. A call or case drawn before is left out of the population."""
    actor.require(SAMPLERS, "draw the quality sample")
    month = parse_period(period)
    for name in ("call_rate", "case_rate"):
        if not 0 <= getattr(settings, name) <= 1:
            raise SamplingError(f"{name} {getattr(settings, name)}: must be between 0 and 1")
    calls = qa_repo.unsampled_calls(session, month.start, month.end)
    cases = qa_repo.unsampled_closed_cases(session, month.start, month.end, PROBLEM_CASE_TYPES)
    by_branch: dict[str, dict[str, int]] = {}
    rows: list[QaSample] = []
    for kind, found, rate, minimum in (("call", calls, settings.call_rate, settings.call_min),
                                       ("case", cases, settings.case_rate, settings.case_min)):
        for (branch_id, code), strata in sorted(_by_branch(found).items(), key=lambda item: item[0][1]):
            size = sum(len(ids) for ids in strata.values())
            drawn = stratified(strata, quota(size, rate, minimum), seed, period, kind, code)
            counts = by_branch.setdefault(code, {"calls": 0, "cases": 0})
            for stratum, ids in drawn.items():
                counts[f"{kind}s"] += len(ids)
                rows.extend(QaSample(period=period, kind=kind, call_id=i if kind == "call" else None,
                                     case_id=i if kind == "case" else None, branch_id=branch_id, stratum=stratum,
                                     seed=seed, drawn_at=now, drawn_by=actor.user) for i in ids)
    session.add_all(rows)
    session.flush()
    return DrawSummary(period, sum(c["calls"] for c in by_branch.values()),
                       sum(c["cases"] for c in by_branch.values()), by_branch)


def _by_branch(found: Sequence[qa_repo.Candidate]) -> dict[tuple[int, str], dict[str, list[int]]]:
    grouped: dict[tuple[int, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for candidate in found:
        grouped[(candidate.branch_id, candidate.branch_code)][candidate.stratum].append(candidate.id)
    return grouped
