"""Kafka connections and the topic bootstrap shared by the local stack, compose and tests.

``python -m shared.kafka ensure-topics`` creates every contract topic and its ``.dlq`` twin
with the settings' partitions, replication factor and ``min.insync.replicas``, and says how
each topic that exists already differs from them (it changes no existing topic: more replicas
take a partition reassignment, docs/deployment.md).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from shared.config import Settings
from shared.events import TOPICS, dlq_topic

log = logging.getLogger(__name__)
CONTRACT_TOPICS = tuple(t for topic in TOPICS for t in (topic, dlq_topic(topic)))


def producer(settings: Settings, client_id: str) -> KafkaProducer:
    """A producer that waits for the replicas ``KAFKA_ACKS`` names (all in-sync ones by default)
    and keeps per-key order on retry."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks=acks(settings),
        retries=10,
        max_in_flight_requests_per_connection=1,
        linger_ms=2,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def acks(settings: Settings) -> str | int:
    """The producers' ``acks``: ``all`` (every in-sync replica), 1 (the leader) or 0."""
    if settings.kafka_acks in ("all", "-1"):
        return "all"
    if settings.kafka_acks in ("0", "1"):
        return int(settings.kafka_acks)
    raise ValueError(f"KAFKA_ACKS must be all, 1 or 0, not {settings.kafka_acks!r}")


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


@dataclass(frozen=True)
class TopicLayout:
    """What the bootstrap sets of a topic."""

    partitions: int
    replication_factor: int
    min_insync_replicas: int | None  # None: the broker did not say


def wanted_layout(settings: Settings, partitions: int | None = None) -> TopicLayout:
    """The layout the settings ask for; refuses settings no write could ever satisfy."""
    layout = TopicLayout(partitions or settings.kafka_partitions,
                         settings.kafka_replication_factor, settings.kafka_min_insync_replicas)
    if not 1 <= layout.min_insync_replicas <= layout.replication_factor:
        raise ValueError(
            f"KAFKA_MIN_INSYNC_REPLICAS={layout.min_insync_replicas} must be between 1 and "
            f"KAFKA_REPLICATION_FACTOR={layout.replication_factor}: with acks=all no write "
            "could succeed")
    return layout


def differences(topic: str, found: TopicLayout, wanted: TopicLayout) -> list[str]:
    """How an existing topic differs from the settings, in words (nothing when it does not)."""
    said = []
    if found.partitions != wanted.partitions:
        said.append(f"{topic}: {found.partitions} partitions, the settings say "
                    f"{wanted.partitions} (KAFKA_PARTITIONS)")
    if found.replication_factor != wanted.replication_factor:
        said.append(f"{topic}: replication factor {found.replication_factor}, the settings say "
                    f"{wanted.replication_factor} (KAFKA_REPLICATION_FACTOR)")
    if found.min_insync_replicas != wanted.min_insync_replicas:
        have = "unknown" if found.min_insync_replicas is None else found.min_insync_replicas
        said.append(f"{topic}: min.insync.replicas {have}, the settings say "
                    f"{wanted.min_insync_replicas} (KAFKA_MIN_INSYNC_REPLICAS)")
    return said


def _layouts(admin: KafkaAdminClient, topics: list[str]) -> dict[str, TopicLayout]:
    """The layout of each of ``topics`` as the cluster reports it."""
    if not topics:
        return {}
    configs: dict[str, int | None] = dict.fromkeys(topics)
    responses = admin.describe_configs([
        ConfigResource(ConfigResourceType.TOPIC, t, {"min.insync.replicas": None})
        for t in topics])
    for response in responses:
        for _error, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "min.insync.replicas" and entry[1] is not None:
                    configs[name] = int(entry[1])
    layouts = {}
    for described in admin.describe_topics(topics):
        partitions = described["partitions"]
        replicas = max((len(p["replicas"]) for p in partitions), default=0)
        layouts[described["topic"]] = TopicLayout(len(partitions), replicas,
                                                  configs.get(described["topic"]))
    return layouts


def ensure_topics(settings: Settings, partitions: int | None = None,
                  wait_seconds: float = 60.0) -> tuple[list[str], list[str]]:
    """Create the contract topics that are missing; answer the names created and how the
    topics that were there differ from the settings."""
    wanted = wanted_layout(settings, partitions)
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
        names = [settings.topic(t) for t in CONTRACT_TOPICS]
        missing = [t for t in names if t not in existing]
        if missing:
            # Another bootstrap may win the race; the topics are there either way.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([
                    NewTopic(t, wanted.partitions, wanted.replication_factor,
                             topic_configs={"min.insync.replicas": str(wanted.min_insync_replicas)})
                    for t in missing])
        found = _layouts(admin, [t for t in names if t in existing])
        differ = [line for t, layout in found.items() for line in differences(t, layout, wanted)]
        return missing, differ
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.kafka")
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure-topics", help="create the contract topics and .dlq twins")
    ensure.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args(argv)
    created, differ = ensure_topics(Settings.from_env(), args.partitions)
    for line in differ:
        print(f"differs: {line}", flush=True)
    if created:
        print(f"topics created: {', '.join(created)}")
    else:
        print("topics already present" + (f", {len(differ)} differences above" if differ
                                          else ", as the settings say"))


if __name__ == "__main__":
    main()
