"""Business metrics of the inspections service (docs/inspections.md, Metrics).

Rule U holds in aggregates too: nothing here carries a county label, so no figure a county
could read tells it that an inspection of its county is planned.

``supervision_inspections`` is set by the consumer process holding the gauges' lease
(shared.gauges), by no web process: it comes from one place, so ``sum`` over every target the
service has is the count itself.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.inspections.domain.model import STATUSES

CHECKS = Counter("supervision_checks_total", "Spot checks filed, by outcome (passed, failed)",
                 ["outcome"])
INSPECTIONS = Gauge("supervision_inspections", "Inspections by status, city-wide", ["status"],
                    multiprocess_mode="mostrecent")
GAUGES_LEASE = "inspections-gauges"


def set_inspection_gauges(counts: dict[str, int]) -> None:
    """Every status, zeros included."""
    for status in STATUSES:
        INSPECTIONS.labels(status).set(counts.get(status, 0))


def clear_inspection_gauges() -> None:
    """Not the holder of the lease: report none (the holder reports them)."""
    INSPECTIONS.clear()
