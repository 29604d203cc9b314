"""Sampling: random is uniform over the population; risk prefers risky items; both repeat with
the same seed; a size beyond the population takes it all (docs/sampling.md)."""

from collections import Counter
from datetime import timedelta

import pytest

from services.inspections.domain.sampling import draw, risk_weight
from tests.unit.inspections.fakes import NOW, item

POPULATION = [item(f"i{n:03d}") for n in range(20)]


@pytest.mark.parametrize("strategy", ["random", "risk"])
def test_the_same_seed_over_the_same_copy_draws_the_same_items(strategy):
    first = draw(POPULATION, strategy, 5, seed=42, now=NOW)
    assert draw(list(reversed(POPULATION)), strategy, 5, seed=42, now=NOW) == first
    assert len(set(first)) == 5


@pytest.mark.parametrize("strategy", ["random", "risk"])
def test_a_size_beyond_the_population_takes_every_item(strategy):
    assert sorted(draw(POPULATION[:3], strategy, 10, seed=1, now=NOW)) == ["i000", "i001", "i002"]


def test_random_sampling_is_uniform_over_the_population():
    drawn = Counter(i for seed in range(4000) for i in draw(POPULATION, "random", 5, seed, NOW))
    expected = 4000 * 5 / len(POPULATION)  # 1000 per item
    assert all(abs(n - expected) < 0.15 * expected for n in drawn.values())
    assert len(drawn) == len(POPULATION)


def test_a_quiet_item_weighs_one_and_every_risk_adds_weight():
    assert risk_weight(item("q"), NOW) == 1.0
    assert risk_weight(item("r", reopen_count=2), NOW) == 5.0
    assert risk_weight(item("o", overdue=True, overdue_count=1), NOW) == 3.0
    assert risk_weight(item("c", status="closed", closed_at=NOW - timedelta(days=3)), NOW) == 2.5
    assert risk_weight(item("c", status="closed", closed_at=NOW - timedelta(days=31)), NOW) == 1.0


def test_risk_sampling_prefers_risky_items():
    risky = [item(f"r{n}", reopen_count=2, overdue=True, overdue_count=2) for n in range(5)]
    population = POPULATION + risky  # weights 1 ×20 and 8 ×5
    drawn = Counter(i for seed in range(2000) for i in draw(population, "risk", 5, seed, NOW))
    per_risky = sum(drawn[i.id] for i in risky) / len(risky)
    per_quiet = sum(drawn[i.id] for i in POPULATION) / len(POPULATION)
    assert per_risky > 3 * per_quiet
    assert per_quiet > 0, "quiet items keep a chance of being drawn"


def test_random_sampling_ignores_risk():
    risky = [item(f"r{n}", reopen_count=5) for n in range(5)]
    drawn = Counter(i for seed in range(2000)
                    for i in draw(POPULATION + risky, "random", 5, seed, NOW))
    per_risky = sum(drawn[i.id] for i in risky) / len(risky)
    per_quiet = sum(drawn[i.id] for i in POPULATION) / len(POPULATION)
    assert abs(per_risky - per_quiet) < 0.2 * per_quiet
