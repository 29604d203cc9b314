"""The notifications service's own metrics. Labels are bounded: outcomes and states only,
never a subscription id or a URL.

``supervision_webhook_deliveries`` is set by the dispatcher holding the gauges' lease
(shared.gauges), by no web process: it comes from one place, so ``sum`` over every target the
service has is the count itself."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
DELIVERIES = Gauge(
    "supervision_webhook_deliveries", "Webhook deliveries by state "
    "(due, waiting = the retry backlog, in_flight, failed)", ["state"],
    multiprocess_mode="mostrecent")
GAUGES_LEASE = "notifications-gauges"


def set_delivery_gauges(counts: dict[str, int]) -> None:
    for state, value in counts.items():
        DELIVERIES.labels(state).set(value)


def clear_delivery_gauges() -> None:
    """Not the holder of the lease: report none (the holder reports them)."""
    DELIVERIES.clear()
