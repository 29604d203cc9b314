"""Business metrics of the inspections service (docs/inspections.md, Metrics).

Rule U holds in aggregates too: nothing here carries a county label, so no figure a county
could read tells it that an inspection of its county is planned.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from services.inspections.domain.model import STATUSES

CHECKS = Counter("supervision_checks_total", "Spot checks filed, by outcome (passed, failed)",
                 ["outcome"])


class InspectionsByStatus:
    """``supervision_inspections{status}``, counted in the database at scrape time, so every
    worker process reports the same figure."""

    def __init__(self, count_by_status: Callable[[], dict[str, int]]):
        self.count_by_status = count_by_status

    def collect(self):
        counts = self.count_by_status()
        family = GaugeMetricFamily("supervision_inspections", "Inspections by status, city-wide",
                                   labels=["status"])
        for status in STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family
