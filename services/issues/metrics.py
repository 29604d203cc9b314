"""Business metrics of the issues service (bounded labels: county codes and statuses only)."""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from pymongo.database import Database

from services.issues import views
from services.issues.domain.model import local_date
from shared.events import now

ITEMS_REOPENED = Counter(
    "supervision_items_reopened_total", "Items reopened by a failed inspection (rule R)",
    ["county"])


class ItemsCollector:
    """Items by county and status, and overdue items by county, read at scrape time."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        by_status = GaugeMetricFamily("supervision_items", "Items by county and status",
                                      labels=["county", "status"])
        for (county, status), count in views.counts_by_status(self.db).items():
            by_status.add_metric([county, status], count)
        overdue = GaugeMetricFamily("supervision_items_overdue",
                                    "Items past their deadline and not closed, by county",
                                    labels=["county"])
        for county, count in views.overdue_by_county(self.db, local_date(now())).items():
            overdue.add_metric([county], count)
        return [by_status, overdue]
