"""The topic bootstrap's layout from the settings, and what it says of a topic that differs."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.kafka import TopicLayout, acks, differences, wanted_layout

PRODUCTION = Settings.from_env({"KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2",
                                "KAFKA_ACKS": "all", "KAFKA_PARTITIONS": "6"})


def test_one_broker_keeps_one_replica_by_default():
    assert wanted_layout(Settings()) == TopicLayout(6, 1, 1)
    assert acks(Settings()) == "all"


def test_the_settings_name_the_production_layout():
    assert wanted_layout(PRODUCTION) == TopicLayout(6, 3, 2)
    assert wanted_layout(PRODUCTION, partitions=3) == TopicLayout(3, 3, 2)


@pytest.mark.parametrize("replicas, insync", [(3, 4), (1, 2), (3, 0)])
def test_settings_no_write_could_satisfy_are_refused(replicas, insync):
    settings = Settings.from_env({"KAFKA_REPLICATION_FACTOR": str(replicas),
                                  "KAFKA_MIN_INSYNC_REPLICAS": str(insync)})
    with pytest.raises(ValueError, match="KAFKA_MIN_INSYNC_REPLICAS"):
        wanted_layout(settings)


def test_a_topic_as_the_settings_say_has_no_differences():
    assert differences("supervision.issues.v1", TopicLayout(6, 3, 2), TopicLayout(6, 3, 2)) == []


def test_each_difference_is_said_with_the_setting_that_asks_otherwise():
    said = differences("supervision.issues.v1", TopicLayout(3, 1, 1), TopicLayout(6, 3, 2))
    assert said == [
        "supervision.issues.v1: 3 partitions, the settings say 6 (KAFKA_PARTITIONS)",
        "supervision.issues.v1: replication factor 1, the settings say 3 "
        "(KAFKA_REPLICATION_FACTOR)",
        "supervision.issues.v1: min.insync.replicas 1, the settings say 2 "
        "(KAFKA_MIN_INSYNC_REPLICAS)",
    ]


def test_only_what_differs_is_said():
    said = differences("t", TopicLayout(6, 3, 1), TopicLayout(6, 3, 2))
    assert said == ["t: min.insync.replicas 1, the settings say 2 (KAFKA_MIN_INSYNC_REPLICAS)"]
    assert differences("t", TopicLayout(6, 3, None), TopicLayout(6, 3, 2)) == [
        "t: min.insync.replicas unknown, the settings say 2 (KAFKA_MIN_INSYNC_REPLICAS)"]


@pytest.mark.parametrize("raw, value", [("all", "all"), ("-1", "all"), ("1", 1), ("0", 0)])
def test_producer_acks(raw, value):
    assert acks(Settings.from_env({"KAFKA_ACKS": raw})) == value


def test_unknown_acks_are_refused():
    with pytest.raises(ValueError, match="KAFKA_ACKS"):
        acks(Settings.from_env({"KAFKA_ACKS": "leader"}))
