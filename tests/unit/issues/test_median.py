"""The ledger's median days to close, from the database's count per number of days."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from services.issues.domain.figures import median


@pytest.mark.parametrize("days", [[5], [1, 9], [3, 3, 4, 10], [0, 2, 2, 2, 7, 30, 31], [8, 1, 1]])
def test_the_median_of_counted_values_is_the_median_of_the_values(days):
    assert median(dict(Counter(days))) == statistics.median(days)


def test_no_closed_items_have_no_median():
    assert median({}) is None
