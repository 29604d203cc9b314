"""The notifications service's own metrics. Labels are bounded: outcomes and states only,
never a subscription id or a URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from shared.metrics import HTTP_BUCKETS, LAG_BUCKETS

WEBHOOK_ATTEMPTS = Counter(
    "supervision_webhook_attempts_total",
    "Webhook attempts by outcome: success, http_error, no_answer, refused, gone", ["outcome"])
WEBHOOK_LATENCY = Histogram(
    "supervision_webhook_request_duration_seconds",
    "Time a county endpoint took to answer one webhook POST", buckets=HTTP_BUCKETS)
WEBHOOK_DELIVERY_LAG = Histogram(
    "supervision_webhook_delivery_lag_seconds",
    "From an event's time to its successful delivery to a county endpoint", buckets=LAG_BUCKETS)
WEBHOOK_FAILED = Counter(
    "supervision_webhook_deliveries_failed_total",
    "Deliveries given up after their last attempt (or a 410), left for replay")
FEED_LAG = Histogram(
    "supervision_feed_lag_seconds",
    "Age of events when the pull feed hands them to a reader", buckets=LAG_BUCKETS)


class DeliveryBacklog:
    """Deliveries by state, read from the database at scrape time (so it is right across
    every process): due now, waiting for a retry, in flight, failed."""

    def __init__(self, counts: Callable[[datetime], dict[str, int]], clock: Callable[[], datetime]):
        self.counts = counts
        self.clock = clock

    def collect(self):
        family = GaugeMetricFamily(
            "supervision_webhook_deliveries", "Webhook deliveries by state "
            "(due, waiting = the retry backlog, in_flight, failed)", labels=["state"])
        for state, value in self.counts(self.clock()).items():
            family.add_metric([state], value)
        yield family
