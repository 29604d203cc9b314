"""The topic bootstrap on the real broker: topics made with the settings' layout, and what it
says of topics that were there with another."""

from __future__ import annotations

import dataclasses
import uuid

from kafka import KafkaAdminClient

from shared.kafka import CONTRACT_TOPICS, TopicLayout, _layouts, ensure_topics


def test_topics_are_created_with_the_settings_and_differences_are_said(base_settings):
    scoped = dataclasses.replace(base_settings, topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                                 kafka_partitions=2)
    created, differ = ensure_topics(scoped)
    names = [scoped.topic(t) for t in CONTRACT_TOPICS]
    assert sorted(created) == sorted(names)
    assert differ == []
    admin = KafkaAdminClient(bootstrap_servers=scoped.kafka_bootstrap_servers)
    try:
        assert _layouts(admin, names) == dict.fromkeys(names, TopicLayout(2, 1, 1))
    finally:
        admin.close()

    # The same topics against settings that ask for more: nothing is created or changed, and
    # every difference is said.
    again, differ = ensure_topics(dataclasses.replace(scoped, kafka_partitions=3))
    assert again == []
    assert differ == [f"{name}: 2 partitions, the settings say 3 (KAFKA_PARTITIONS)"
                      for name in names]
    # One broker cannot hold three replicas: asking for them is said, not attempted.
    _, differ = ensure_topics(dataclasses.replace(scoped, kafka_replication_factor=3,
                                                  kafka_min_insync_replicas=2))
    assert (f"{names[0]}: replication factor 1, the settings say 3 (KAFKA_REPLICATION_FACTOR)"
            in differ)
    assert (f"{names[0]}: min.insync.replicas 1, the settings say 2 "
            "(KAFKA_MIN_INSYNC_REPLICAS)" in differ)
