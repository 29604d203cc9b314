"""Kafka connections and the topic bootstrap shared by the local stack, compose and tests.

``python -m shared.kafka ensure-topics`` creates every contract topic and its ``.dlq`` twin.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from shared.config import Settings
from shared.events import TOPICS, dlq_topic

log = logging.getLogger(__name__)
CONTRACT_TOPICS = tuple(t for topic in TOPICS for t in (topic, dlq_topic(topic)))


def producer(settings: Settings, client_id: str) -> KafkaProducer:
    """A producer that waits for every in-sync replica and keeps per-key order on retry."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        retries=10,
        max_in_flight_requests_per_connection=1,
        linger_ms=2,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def consumer(settings: Settings, group_id: str, topics: tuple[str, ...], client_id: str,
             **overrides) -> KafkaConsumer:
    """A group consumer that commits by hand, only after its handler succeeded.

    Slow work never runs in the poll loop, so ``max_poll_interval_ms`` stays far away; the
    session timeout is short so that a dead instance's partitions move on quickly.
    """
    options = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=100,
        # Handling a record takes milliseconds and retries back off for seconds at most, so a
        # minute is ample; it is also how long a rebalance may wait for a member that died.
        max_poll_interval_ms=60_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        fetch_max_wait_ms=100,
        # kafka-python 2.3 refuses any response frame over receive_message_max_bytes (1 MB by
        # default) while a fetch may bring up to fetch_max_bytes (50 MB): a backlog on several
        # partitions made fetches fail with "Invalid frame length" (kafka-python#3074). The
        # frame limit stays above the fetch limit.
        fetch_max_bytes=8 * 1024 * 1024,
        receive_message_max_bytes=16 * 1024 * 1024,
    )
    # Static membership: an instance restarted under the same id takes its partitions back
    # at once instead of waiting for a rebalance (one id per replica, e.g. a pod name).
    if instance_id := settings.consumer_instance_id:
        options["group_instance_id"] = f"{group_id}-{instance_id}"
    options.update(overrides)
    return KafkaConsumer(*topics, **options)


def reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    """A metadata round trip to the bootstrap servers."""
    probe = None
    try:
        # No group, so no auto-commit (kafka-python warns at every probe otherwise).
        probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                              enable_auto_commit=False,
                              request_timeout_ms=int(timeout_s * 1000) + 1000,
                              api_version_auto_timeout_ms=int(timeout_s * 1000))
        return probe.topics() is not None
    except KafkaError:
        return False
    finally:
        if probe is not None:
            probe.close()


def ensure_topics(settings: Settings, partitions: int | None = None,
                  wait_seconds: float = 60.0) -> list[str]:
    """Create the contract topics that are missing; return the names created."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                     client_id="topic-bootstrap")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka at {settings.kafka_bootstrap_servers} not reachable: {exc}") from exc
            time.sleep(1)
    try:
        existing = set(admin.list_topics())
        count = partitions or settings.kafka_partitions
        wanted = [settings.topic(t) for t in CONTRACT_TOPICS]
        missing = [t for t in wanted if t not in existing]
        if missing:
            # Another bootstrap may win the race; the topics are there either way.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(t, count, 1) for t in missing])
        return missing
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.kafka")
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure-topics", help="create the contract topics and .dlq twins")
    ensure.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args(argv)
    created = ensure_topics(Settings.from_env(), args.partitions)
    print(f"topics created: {', '.join(created)}" if created else "topics already present")


if __name__ == "__main__":
    main()
