"""Prometheus metrics shared by every service and worker (listed in docs/metrics.md).

Under gunicorn, and for the workers beside it, ``PROMETHEUS_MULTIPROC_DIR`` names one directory
per service: every process of the service writes there and the service's ``/metrics`` adds them
up. Where the variable is unset (tests, one-off tools) the plain in-process registry is used.
Labels stay bounded: route templates, event types, outcomes, county codes; never ids or text.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from shared.config import Settings

# Our latencies: HTTP in milliseconds to a second or two, pipeline lag up to minutes.
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

HTTP_REQUESTS = Counter(
    "supervision_http_requests_total", "HTTP requests answered",
    ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "supervision_http_request_duration_seconds", "Time to answer an HTTP request",
    ["service", "method", "route"], buckets=HTTP_BUCKETS)

EVENTS_PUBLISHED = Counter(
    "supervision_events_published_total", "Events the outbox relay published, confirmed by Kafka",
    ["service", "type"])
OUTBOX_BACKLOG = Gauge(
    "supervision_outbox_backlog", "Events written to the outbox and not yet published",
    ["service"], multiprocess_mode="livemax")
OUTBOX_OLDEST = Gauge(
    "supervision_outbox_oldest_age_seconds", "Age of the oldest event waiting in the outbox",
    ["service"], multiprocess_mode="livemax")

EVENTS_CONSUMED = Counter(
    "supervision_events_consumed_total",
    "Records a consumer handled, by outcome: processed, duplicate, ignored, dead_lettered, retried",
    ["service", "type", "outcome"])
EVENT_HANDLING = Histogram(
    "supervision_event_handling_seconds", "Time a consumer spent handling one event",
    ["service", "type"], buckets=HTTP_BUCKETS)
EVENT_LAG = Histogram(
    "supervision_event_lag_seconds", "Event time to the moment a consumer applied it",
    ["service", "type"], buckets=LAG_BUCKETS)
CONSUMER_LAG = Gauge(
    "supervision_consumer_lag_records", "Records on a partition not yet consumed by the group",
    ["service", "topic", "partition"], multiprocess_mode="livemax")


def multiprocess_dir() -> str | None:
    return Settings.from_env().prometheus_multiproc_dir


def exposition() -> tuple[bytes, str]:
    """The text a ``/metrics`` request answers."""
    registry = REGISTRY
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve_from_env(settings: Settings | None = None) -> None:
    """A worker outside gunicorn serves its own /metrics on ``METRICS_PORT`` when that is set:
    where it shares no multiprocess directory with its web process (one process a pod)."""
    port = (settings or Settings.from_env()).metrics_port
    if not port:
        return
    registry = REGISTRY
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)


def child_exit(server, worker) -> None:
    """gunicorn hook: forget the live gauges of a worker that has gone."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)
