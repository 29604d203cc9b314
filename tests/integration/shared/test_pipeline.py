"""The event backbone on the real broker and database: nothing lost, nothing applied twice,
per-key order kept, poison records dead-lettered, and a database outage waited out."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from shared import mongo
from shared.consumer import ConsumerRunner
from shared.events import INSPECTIONS_TOPIC, dlq_topic, encode, record_key
from tests.integration.shared import probe
from tests.processes import PrivateDatabase, environment, python_module
from tests.support import eventually


def tallies(settings):
    return mongo.database(settings, probe.SERVICE).tallies


def applied_total(settings) -> int:
    return sum(t["applied"] for t in tallies(settings).find({}, {"applied": 1}))


def pending_sources(settings) -> int:
    return mongo.database(settings, probe.SERVICE).sources.count_documents(
        {"outbox_pending": True})


def topic_records(settings, topic: str) -> list:
    consumer = KafkaConsumer(settings.topic(topic),
                             bootstrap_servers=settings.kafka_bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000,
                             enable_auto_commit=False)
    try:
        return list(consumer)
    finally:
        consumer.close()


def run_in_thread(runner: ConsumerRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def test_sigkill_of_relay_and_consumer_mid_batch_loses_nothing_and_applies_each_event_once(
        kafka_settings, tmp_path):
    items, per_item = 250, 4
    events = probe.seed(kafka_settings, items, per_item)
    env = environment(kafka_settings)
    relay = python_module("relay", "tests.integration.shared.probe_relay", env=env,
                          log_dir=tmp_path)
    consumer = python_module("consumer", "tests.integration.shared.probe", env=env,
                             log_dir=tmp_path)

    relay.start()
    pending_at_kill = eventually(lambda: (n := pending_sources(kafka_settings)) < items and n,
                                 timeout=60, interval=0.005, message="relay never started")
    relay.kill()
    consumer.start()
    applied_at_kill = eventually(lambda: applied_total(kafka_settings), timeout=60,
                                 interval=0.01, message="consumer never applied anything")
    consumer.kill()
    relay.start()
    consumer.start()
    try:
        eventually(lambda: applied_total(kafka_settings) == len(events), timeout=120,
                   message=f"not every event applied\n{consumer.tail()}\n{relay.tail()}")
        eventually(lambda: pending_sources(kafka_settings) == 0, timeout=30)
        sources = mongo.database(kafka_settings, probe.SERVICE).sources
        assert all(doc["outbox"] == [] for doc in sources.find()), "sent events left behind"
    finally:
        relay.stop()
        consumer.stop()

    assert 0 < pending_at_kill < items, "the relay was killed mid-way through the outboxes"
    assert 0 < applied_at_kill < len(events), "the consumer was killed mid-way"
    for tally in tallies(kafka_settings).find():
        assert tally["applied"] == per_item, tally["_id"]
        assert tally["order"] == list(range(per_item)), f"{tally['_id']} out of order"
    published = topic_records(kafka_settings, INSPECTIONS_TOPIC)
    assert {r.value for r in published} == {encode(e) for e in events}


def test_the_same_event_delivered_many_times_changes_state_once(kafka_settings):
    probe.seed(kafka_settings, 1, 0)
    event = probe.check_failed("item-0", 7)
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    for _ in range(5):
        producer.send(kafka_settings.topic(INSPECTIONS_TOPIC), key=record_key(event),
                      value=encode(event))
    producer.flush()
    producer.close()
    runner = ConsumerRunner(probe.SERVICE, kafka_settings, probe.handlers_for(kafka_settings),
                            topics=(kafka_settings.topic(INSPECTIONS_TOPIC),), group_id="dups")
    thread = run_in_thread(runner)
    try:
        eventually(lambda: applied_total(kafka_settings) == 1)
        eventually(lambda: _committed(kafka_settings, "dups") == 5,
                   message="the five copies were not all consumed")
    finally:
        runner.stop.set()
        thread.join(20)
    assert tallies(kafka_settings).find_one({"_id": "item-0"})["order"] == [7]


def _committed(settings, group: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                             enable_auto_commit=False)
    try:
        topic = settings.topic(INSPECTIONS_TOPIC)
        partitions = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions)
    finally:
        consumer.close()


def test_a_poison_record_goes_to_the_dlq_with_its_reason_and_the_partition_moves_on(
        kafka_settings):
    probe.seed(kafka_settings, 1, 0)
    topic = kafka_settings.topic(INSPECTIONS_TOPIC)
    first, after = probe.check_failed("item-0", 1), probe.check_failed("item-0", 2)
    schema_breaker = probe.check_failed("item-0", 3)
    schema_breaker["data"]["outcome"] = "maybe"
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    for value in (encode(first), b"\x00 not an event", encode(schema_breaker), encode(after)):
        producer.send(topic, key=b"item-0", value=value, headers=[("origin", b"test")])
    producer.flush()
    producer.close()
    runner = ConsumerRunner(probe.SERVICE, kafka_settings, probe.handlers_for(kafka_settings),
                            topics=(topic,), group_id="poison")
    thread = run_in_thread(runner)
    try:
        eventually(lambda: tallies(kafka_settings).find_one({"_id": "item-0"})["order"] == [1, 2])
        dead = eventually(lambda: len(r := topic_records(kafka_settings,
                                                         dlq_topic(INSPECTIONS_TOPIC))) == 2 and r)
    finally:
        runner.stop.set()
        thread.join(20)
    assert [r.value for r in dead] == [b"\x00 not an event", encode(schema_breaker)]
    for record in dead:
        headers = dict(record.headers)
        assert record.key == b"item-0"
        assert headers["origin"] == b"test"
        assert headers["dlq-original-topic"] == topic.encode()
        assert headers["dlq-consumer-group"] == b"poison"
        assert int(headers["dlq-original-offset"]) >= 1
    assert b"not JSON" in dict(dead[0].headers)["dlq-reason"]
    assert b"outcome" in dict(dead[1].headers)["dlq-reason"]


def test_with_the_database_down_nothing_is_committed_past_what_was_applied(
        kafka_settings, tmp_path):
    database = PrivateDatabase(tmp_path / "db", tmp_path)
    database.start()
    settings = dataclasses.replace(kafka_settings, mongodb_uri=database.uri)
    probe.seed(settings, 1, 0)
    topic = settings.topic(INSPECTIONS_TOPIC)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)

    def publish(sequence: int) -> None:
        event = probe.check_failed("item-0", sequence)
        producer.send(topic, key=record_key(event), value=encode(event)).get(10)

    runner = ConsumerRunner(probe.SERVICE, settings, probe.handlers_for(settings),
                            topics=(topic,), group_id="outage", max_backoff=0.5)
    thread = run_in_thread(runner)
    try:
        publish(1)
        eventually(lambda: tallies(settings).find_one({"_id": "item-0"})["order"] == [1])
        committed_before = eventually(lambda: _committed(settings, "outage"))
        database.stop()
        publish(2)
        publish(3)
        # Give the consumer time to fail against the dead database several times over.
        eventually(lambda: _retried(runner) >= 3, timeout=30, message="no retries seen")
        assert _committed(settings, "outage") == committed_before
        database.start()
        eventually(lambda: tallies(settings).find_one({"_id": "item-0"})["order"] == [1, 2, 3],
                   timeout=60)
        eventually(lambda: _committed(settings, "outage") == committed_before + 2)
    finally:
        runner.stop.set()
        thread.join(20)
        producer.close()
        database.stop()


def _retried(runner: ConsumerRunner) -> float:
    return REGISTRY.get_sample_value("supervision_events_consumed_total", {
        "service": runner.service, "type": "inspection.check_failed", "outcome": "retried"}) or 0


pytestmark = pytest.mark.timeout(240)
