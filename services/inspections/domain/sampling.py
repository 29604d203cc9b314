"""Drawing the items an inspection checks (docs/sampling.md explains the choices).

Both strategies are reproducible: the same seed over the same copy at the same planning time
draws the same items, because the population is put in id order before any random number is
drawn. A size larger than the population takes the whole population.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from services.inspections.domain.model import CopiedItem

RANDOM, RISK = "random", "risk"
STRATEGIES = (RANDOM, RISK)
RECENTLY_CLOSED = timedelta(days=30)


def risk_weight(item: CopiedItem, now: datetime) -> float:
    """How much more likely a risky item is to be drawn than a quiet one (weight 1)."""
    recently_closed = item.closed_at is not None and now - item.closed_at <= RECENTLY_CLOSED
    return (1.0 + 2.0 * item.reopen_count + 1.0 * item.overdue_count
            + 1.5 * recently_closed + 1.0 * item.overdue)


def draw(items: list[CopiedItem], strategy: str, size: int, seed: int,
         now: datetime) -> list[str]:
    """The ids of ``size`` items drawn without replacement from ``items`` (a population)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}")
    ordered = sorted(items, key=lambda i: i.id)
    rng = random.Random(seed)
    if size >= len(ordered):
        return [i.id for i in ordered]
    if strategy == RANDOM:
        return [i.id for i in rng.sample(ordered, size)]
    # Efraimidis–Spirakis: each item gets the key u^(1/w); the largest keys win. This is
    # weighted sampling without replacement in one pass, with one random number per item.
    keys = {i.id: rng.random() ** (1.0 / risk_weight(i, now)) for i in ordered}
    return sorted(keys, key=keys.__getitem__, reverse=True)[:size]
