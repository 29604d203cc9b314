"""Business metrics of the issues service (bounded labels: county codes and statuses only).

The per-county gauges are set by the figures process (services/issues/figures.py) from the
kept figures, by the one holding its lease, and by no web process: each figure comes from one
place, so ``sum`` over every target the service has is the figure itself. ``mostrecent``: where
processes share a multiprocess directory, a restarted holder's values replace its predecessor's.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.issues.domain import figures
from services.issues.domain.model import STATUSES

ITEMS_REOPENED = Counter(
    "supervision_items_reopened_total", "Items reopened by a failed inspection (rule R)",
    ["county"])
ITEMS = Gauge("supervision_items", "Items by county and status", ["county", "status"],
              multiprocess_mode="mostrecent")
ITEMS_OVERDUE = Gauge("supervision_items_overdue",
                      "Items past their deadline and not closed, by county", ["county"],
                      multiprocess_mode="mostrecent")


def set_item_gauges(summaries: dict[str, dict]) -> None:
    """Every county's figures, zeros included (a gauge that stopped moving is still right)."""
    for county, kept in summaries.items():
        row = figures.ledger_row(county, kept)
        for status in STATUSES:
            ITEMS.labels(county, status).set(row["by_status"][status])
        ITEMS_OVERDUE.labels(county).set(row["overdue"])


def clear_item_gauges() -> None:
    """Not the holder of the lease: report none (the holder reports them)."""
    ITEMS.clear()
    ITEMS_OVERDUE.clear()
