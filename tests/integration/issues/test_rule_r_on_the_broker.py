"""Rule R across the real broker: an inspection.check_failed event reopens a closed item and
issue.reopened goes out on the issues topic; the same event twice reopens once."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import REGISTRY

from services.issues.consumer import batch_handler_for, handlers_for
from shared import kafka, mongo
from shared.consumer import ConsumerRunner
from shared.events import INSPECTIONS_TOPIC, ISSUES_TOPIC, encode, new_event, record_key
from shared.outbox import Relay
from tests.integration.issues.conftest import YUECHENG, close
from tests.support import eventually


@pytest.fixture
def running(kafka_settings):
    """The issues consumer (a poll at once, as its process runs) and outbox relay, each in a
    thread, on this test's own topics."""
    stop = threading.Event()
    runner = ConsumerRunner("issues", kafka_settings, handlers_for(kafka_settings),
                            topics=(kafka_settings.topic(INSPECTIONS_TOPIC),),
                            group_id=f"issues-{uuid.uuid4().hex[:6]}",
                            batch_handler=batch_handler_for(kafka_settings))
    producer = kafka.producer(kafka_settings, "issues-relay-test")
    relay = Relay(mongo.database(kafka_settings, "issues"), producer, "issues", kafka_settings)
    threads = [threading.Thread(target=runner.run, daemon=True),
               threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    yield
    runner.stop.set()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    producer.close(timeout=5)


def duplicates() -> float:
    return REGISTRY.get_sample_value("supervision_events_consumed_total", {
        "service": "issues", "type": "inspection.check_failed", "outcome": "duplicate"}) or 0.0


def check_failed(item: dict) -> dict:
    return new_event("inspection.check_failed", subject="insp-42", county=item["county"], data={
        "inspection_id": "insp-42", "item_id": item["id"], "target_county": item["county"],
        "outcome": "fail", "findings": "承诺书未公示,整改不到位", "evidence": ["现场.jpg"],
        "observed_at": datetime.now(UTC), "inspector": "inspector-yc-1"})


def test_a_failed_check_on_the_broker_reopens_the_closed_item_once_and_is_announced(
        kafka_settings, as_role, running):
    county, city = as_role("county_admin", YUECHENG), as_role("city_admin")
    item = county.create()
    close(county, city, item)
    listener = KafkaConsumer(kafka_settings.topic(ISSUES_TOPIC),
                             bootstrap_servers=kafka_settings.kafka_bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=500)
    event = check_failed(item)
    duplicates_before = duplicates()
    sender = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    for _ in range(2):  # at-least-once delivery: the same event twice
        sender.send(kafka_settings.topic(INSPECTIONS_TOPIC), key=record_key(event),
                    value=encode(event)).get(timeout=15)
    sender.close()

    reopened = eventually(lambda: (i := city.get(f"/v1/items/{item['id']}").get_json())[
        "status"] == "reopened" and i, timeout=120, message="the item was not reopened")
    assert reopened["reopen_count"] == 1
    assert reopened["history"][-1]["inspection_id"] == "insp-42"

    heard: list[dict] = []

    def announced():
        heard.extend(json.loads(record.value) for record in listener)
        return [e for e in heard if e["type"] == "issue.reopened"]

    [reopening] = eventually(announced, timeout=60, message="issue.reopened never published")
    assert reopening["subject"] == item["id"] and reopening["county"] == YUECHENG
    assert reopening["itemversion"] == reopened["version"]
    assert reopening["data"]["findings"] == "承诺书未公示,整改不到位"
    listener.close()
    eventually(lambda: duplicates() == duplicates_before + 1, timeout=60,
               message="the second delivery was not handled")
    # the second delivery was absorbed: still one reopening, one history entry for it
    final = city.get(f"/v1/items/{item['id']}").get_json()
    assert final["reopen_count"] == 1 and final["version"] == reopened["version"]
    assert sum(h["cause"] == "inspection.check_failed" for h in final["history"]) == 1
