"""The issues consumer applies a whole poll at once, on the real database (and, for the poison
record, the real broker): each event once, the events of one item in order, and what a batch
cannot apply left to one at a time, where it is applied, retried or dead-lettered as ever."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer

from services.issues.consumer import batch_handler_for, handlers_for
from services.issues.repository import CHANGES, MongoItemRepository, changelog, to_document
from shared import mongo
from shared.consumer import DUPLICATE, PROCESSED, ConsumerRunner
from shared.events import INSPECTIONS_TOPIC, Event, dlq_topic, encode, new_event, parse
from tests.integration.issues.conftest import YUECHENG, close
from tests.support import eventually


def check(item_id: str, event_type: str = "inspection.check_failed") -> Event:
    outcome = "fail" if event_type == "inspection.check_failed" else "pass"
    return parse(encode(new_event(event_type, subject="insp-7", county=YUECHENG, data={
        "inspection_id": "insp-7", "item_id": item_id, "target_county": YUECHENG,
        "outcome": outcome, "findings": "整改不到位", "evidence": [],
        "observed_at": datetime.now(UTC), "inspector": "inspector-kq-1"})))


def apply_all(settings, events: list[Event]) -> list[str | None]:
    batch = [(event, ("t", 0, n)) for n, event in enumerate(events)]
    return batch_handler_for(settings)(batch)


@pytest.fixture
def closed(yuecheng, city):
    def make(count: int) -> list[dict]:
        items = [yuecheng.create() for _ in range(count)]
        return [close(yuecheng, city, item) for item in items]

    return make


def reopenings(item: dict) -> int:
    return sum(1 for entry in item["history"] if entry.get("to") == "reopened")


def test_a_poll_of_failed_checks_reopens_each_item_once_and_again_changes_nothing(
        settings, city, closed):
    items = closed(4)
    events = [check(item["id"]) for item in items]
    assert apply_all(settings, events) == [PROCESSED] * 4
    assert apply_all(settings, events) == [DUPLICATE] * 4
    for item in items:
        now = city.get(f"/v1/items/{item['id']}").get_json()
        assert now["status"] == "reopened" and now["reopen_count"] == 1
        assert reopenings(now) == 1 and now["version"] == item["version"] + 1
    changes = mongo.database(settings, "issues")[CHANGES]
    for item in items:
        [change] = changes.find({"item_id": item["id"], "version": item["version"] + 1})
        assert [e["type"] for e in change["outbox"]] == ["issue.reopened",
                                                         "issue.status_changed"]


def test_the_same_event_twice_in_one_batch_is_applied_once(settings, city, closed):
    [item] = closed(1)
    event = check(item["id"])
    assert apply_all(settings, [event, event]) == [PROCESSED, DUPLICATE]
    now = city.get(f"/v1/items/{item['id']}").get_json()
    assert now["reopen_count"] == 1 and reopenings(now) == 1
    assert now["version"] == item["version"] + 1


def test_two_events_of_one_item_in_one_batch_are_recorded_in_order_as_two_versions(
        settings, city, closed):
    [item, other] = closed(2)
    failed, passed = check(item["id"]), check(item["id"], "inspection.check_passed")
    assert apply_all(settings, [failed, check(other["id"]), passed]) == [PROCESSED] * 3
    now = city.get(f"/v1/items/{item['id']}").get_json()
    assert now["version"] == item["version"] + 2
    reopening, note = now["history"][-2:]
    assert (reopening["to"], note["cause"]) == ("reopened", "inspection.check_passed")
    log = changelog(mongo.database(settings, "issues"))
    first = log.at(item["id"], item["version"] + 1)
    second = log.at(item["id"], item["version"] + 2)
    assert first["status"] == "reopened" and failed.id in first["processed_events"]
    assert passed.id not in first["processed_events"]
    assert second["processed_events"][-2:] == [failed.id, passed.id]
    assert len(second["history"]) == len(first["history"]) + 1


def test_an_item_whose_current_state_is_behind_is_left_to_one_at_a_time_which_applies_it(
        settings, city, closed):
    """A crash between a change's insert and the update of the current state leaves the
    current state behind: the batch decides on it, its change collides with the one recorded,
    and the event goes one at a time (reading the item by id heals it)."""
    [behind, fine] = closed(2)
    db = mongo.database(settings, "issues")
    repo = MongoItemRepository(db)
    # Record version + 1 in the change log only, as a writer that died before its second write.
    state = to_document(repo.get(behind["id"]))
    state["version"] += 1
    db[CHANGES].insert_one({"_id": f"{behind['id']}:{state['version']}",
                            "item_id": behind["id"], "version": state["version"],
                            "state": state, "outbox": [], "outbox_pending": False})
    late, on_time = check(behind["id"]), check(fine["id"])
    assert apply_all(settings, [late, on_time]) == [None, PROCESSED]
    one_at_a_time = handlers_for(settings)["inspection.check_failed"]
    assert one_at_a_time(late) == PROCESSED
    now = city.get(f"/v1/items/{behind['id']}").get_json()
    assert now["version"] == behind["version"] + 2 and now["reopen_count"] == 1
    assert apply_all(settings, [late, on_time]) == [DUPLICATE, DUPLICATE]


def test_a_check_of_an_unknown_item_is_left_and_the_later_events_of_that_item_too(
        settings, closed):
    [item] = closed(1)
    unknown = str(uuid.uuid4())
    assert apply_all(settings, [check(unknown), check(item["id"]), check(unknown)]) == [
        None, PROCESSED, None]


def test_poison_inside_a_poll_is_dead_lettered_and_the_rest_applied_once(
        kafka_settings, as_role, city):
    county = as_role("county_admin", YUECHENG)
    items = [close(county, city, county.create()) for _ in range(3)]
    topic = kafka_settings.topic(INSPECTIONS_TOPIC)
    good = [check(item["id"]) for item in items]
    unknown = check(str(uuid.uuid4()))
    values = [encode(good[0].raw), b"{not json", encode(good[1].raw), encode(unknown.raw),
              encode(good[2].raw), encode(good[0].raw)]
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    for value in values:  # one key: one partition, in this order
        producer.send(topic, key=b"one-partition", value=value)
    producer.flush()
    producer.close()
    batches: list[int] = []
    apply_batch = batch_handler_for(kafka_settings)

    def watched(batch):
        batches.append(len(batch))
        return apply_batch(batch)

    runner = ConsumerRunner("issues", kafka_settings, handlers_for(kafka_settings),
                            topics=(topic,), group_id=f"poison-{uuid.uuid4().hex[:6]}",
                            batch_handler=watched)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: all(city.get(f"/v1/items/{i['id']}").get_json()["status"]
                               == "reopened" for i in items), timeout=60)
        dead = eventually(lambda: len(found := dead_letters(kafka_settings)) == 2 and found,
                          timeout=60)
    finally:
        runner.stop.set()
        thread.join(30)
    # Each record that does not parse or is left ends a batch; what follows it is batched again.
    assert batches and max(batches) > 1, f"the poll was not applied in batches: {batches}"
    assert sorted(r.value for r in dead) == sorted([b"{not json", encode(unknown.raw)])
    for item in items:
        now = city.get(f"/v1/items/{item['id']}").get_json()
        assert now["reopen_count"] == 1 and reopenings(now) == 1


def dead_letters(settings) -> list:
    consumer = KafkaConsumer(dlq_topic(settings.topic(INSPECTIONS_TOPIC)),
                             bootstrap_servers=settings.kafka_bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    try:
        return list(consumer)
    finally:
        consumer.close()


pytestmark = pytest.mark.timeout(180)
