"""Faults injected into the running system: processes killed with SIGKILL mid-flow, a county
system down for a while, poison records on the broker. Whatever goes in comes out, once in
effect: every failed check reopens its item exactly once, every event reaches every endpoint.

``FAULT_SCALE`` sets the burst of the first test (60 items by default; 1000 for the long run).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from kafka import KafkaConsumer, TopicPartition

from shared import mongo
from shared.events import INSPECTIONS_TOPIC, dlq_topic, encode, new_event
from shared.kafka import producer
from tests.e2e.flows import (
    assert_reopened_exactly_once,
    close_item,
    closed_items,
    create_item,
    fail_all,
    file_results,
    ok,
    plan_inspection,
    reopened_count,
    start_inspection,
    subscribe,
    transition,
)
from tests.receiver import Receiver
from tests.support import eventually

BURST = int(os.environ.get("FAULT_SCALE", "60"))
XINCHANG = "330624"  # a county no other end-to-end flow uses, so its webhooks are this test's


# Creating and closing an item takes 7 requests: the long run needs more than the default.
@pytest.mark.timeout(300 + 2 * BURST)
def test_killing_the_issues_consumer_and_web_mid_burst_reopens_every_item_exactly_once(stack):
    item_ids = closed_items(stack, BURST)
    fail_all(stack, item_ids)
    # Kill in the middle of the burst: some checks applied (and maybe not yet committed on the
    # broker, so they come again), the rest not yet read.
    eventually(lambda: reopened_count(stack, item_ids) >= BURST // 3, timeout=60,
               interval=0.02, message="the burst of failed checks never got going")
    stack.kill("issues-consumer")
    stack.kill("issues")
    done_at_kill = reopened_count(stack, item_ids)
    print(f"\nburst of {BURST}: {done_at_kill} reopened when the consumer was killed")
    stack.start("issues-consumer")
    stack.start("issues")
    started = time.monotonic()
    assert_reopened_exactly_once(stack, item_ids, timeout=120 + BURST / 5)
    print(f"all {BURST} reopened exactly once, {time.monotonic() - started:.1f}s after restart")


def test_a_county_system_down_for_a_while_gets_every_event_and_a_healthy_one_no_repeats(stack):
    items = 5
    expected_events = 2 * items  # issue.created, then issue.status_changed to in_progress
    since = datetime.now(UTC)
    admin = stack.token("county_admin", XINCHANG)
    # Down for a while: two failed attempts per event on average, some events get none left.
    with Receiver() as healthy, Receiver(answers=[503] * (2 * expected_events)) as flaky:
        healthy.secret = subscribe(stack, healthy.url, XINCHANG)["secret"]
        flaky_subscription = subscribe(stack, flaky.url, XINCHANG)
        flaky.secret = flaky_subscription["secret"]
        ids = [create_item(stack, XINCHANG)["id"] for _ in range(items)]
        for item_id in ids:
            transition(stack, item_id, "in_progress", admin, reason="开始整改")
        types = ("issue.created", "issue.status_changed")
        expected = {(item_id, t) for item_id in ids for t in types}

        def received(receiver: Receiver) -> list[tuple[str, str, str]]:
            return [(e["subject"], e["type"], e["id"]) for t in types
                    for e in receiver.of_type(t) if e["subject"] in ids]

        def all_arrived(receiver: Receiver) -> bool:
            return {(s, t) for s, t, _ in received(receiver)} == expected

        eventually(lambda: all_arrived(healthy), timeout=60,
                   message="the healthy endpoint did not get every event")
        eventually(lambda: flaky.attempts >= 2 * expected_events, timeout=60,
                   message="the outage never ended")
        # Deliveries whose every attempt fell in the outage are failed for good; the owner
        # replays them, as an operator does after an outage longer than the retry schedule.
        url = f"{stack.urls['notifications']}/v1/subscriptions/{flaky_subscription['id']}"
        try:
            eventually(lambda: all_arrived(flaky), timeout=15)
            replayed = 0
        except AssertionError:
            replayed = ok(requests.post(f"{url}/replay", json={"since": since.isoformat()},
                                        headers=admin), 202)["replayed"]
            eventually(lambda: all_arrived(flaky), timeout=60,
                       message="the endpoint that was down never got every event")

        healthy_ids = Counter(event_id for _, _, event_id in received(healthy))
        flaky_ids = Counter(event_id for _, _, event_id in received(flaky))
        print(f"\n{expected_events} events; outage of {2 * expected_events} attempts; "
              f"{replayed} replayed; repeats at the endpoint that was down: "
              f"{sum(flaky_ids.values()) - len(flaky_ids)}")
        assert len(healthy_ids) == expected_events
        assert [i for i, n in healthy_ids.items() if n > 1] == [], "a 2xx delivery was repeated"
        assert set(flaky_ids) == set(healthy_ids), "the two endpoints heard different events"
        assert healthy.rejected == [] and flaky.rejected == []


POISON_ROUNDS = 5  # of the 20 kinds below: 100 poison records


def poison_kinds() -> list[bytes | None]:
    """20 values that are not events of ours: garbage bytes, and envelopes breaking the
    catalog (each with event ids of its own)."""
    valid = new_event("inspection.check_failed", subject=str(uuid.uuid4()), county="330603",
                      data={"inspection_id": str(uuid.uuid4()), "item_id": str(uuid.uuid4()),
                            "target_county": "330603", "outcome": "fail", "findings": "x",
                            "observed_at": datetime.now(UTC)})
    broken = [
        {**valid, "specversion": "0.3"},
        {**valid, "id": "not-a-uuid"},
        {**valid, "type": "inspection.exploded"},
        {key: value for key, value in valid.items() if key != "county"},
        {key: value for key, value in valid.items() if key != "subject"},
        {**valid, "time": "yesterday"},
        {**valid, "time": "2026-11-23T10:00:00"},  # no offset
        {**valid, "data": None},
        {**valid, "data": {**valid["data"], "item_id": None}},
        {**valid, "data": {key: v for key, v in valid["data"].items() if key != "item_id"}},
    ]
    garbage = [b"", b"\x00\xff\xfe garbage", b"not json", b"{", b"[]", b"null", b"42",
               b'"a string"', "整改".encode("gbk"), None]
    return [encode(envelope) for envelope in broken] + garbage


def poison(run: str) -> list[tuple[bytes, bytes | None]]:
    """The poison records of a run, each keyed ``poison-<run>-<n>`` so that it can be found in
    the dead letters."""
    values = [value for _ in range(POISON_ROUNDS) for value in poison_kinds()]
    return [(f"poison-{run}-{n}".encode(), value) for n, value in enumerate(values)]


def dead_letters(stack, topic: str, key_prefix: bytes) -> list:
    consumer = KafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap_servers,
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return [r for r in consumer if r.key and r.key.startswith(key_prefix)]
    finally:
        consumer.close()


def test_poison_records_go_to_the_dead_letters_and_a_real_failed_check_still_reopens(stack):
    run = uuid.uuid4().hex[:8]
    records = poison(run)
    assert len(records) == 100
    topic = stack.settings.topic(INSPECTIONS_TOPIC)
    sender = producer(stack.settings, "poison")
    try:
        for key, value in records:
            sender.send(topic, key=key, value=value).get(timeout=15)
    finally:
        sender.close()

    item = create_item(stack)
    close_item(stack, item)
    fail_all(stack, [item["id"]])
    assert_reopened_exactly_once(stack, [item["id"]], timeout=60)

    # Every consumer group of the topic dead-letters each poison record, once.
    groups = [f"{stack.settings.topic_prefix}{service}-consumer"
              for service in ("issues", "notifications")]
    wanted = {(key, group.encode()) for key, _ in records for group in groups}

    def all_dead_lettered() -> Counter:
        found = Counter((r.key, dict(r.headers)["dlq-consumer-group"])
                        for r in dead_letters(stack, dlq_topic(topic), f"poison-{run}-".encode()))
        assert set(found) == wanted, f"{len(set(found))} of {len(wanted)} dead-lettered"
        return found

    found = eventually(all_dead_lettered, timeout=60, interval=1)
    assert [k for k, n in found.items() if n > 1] == [], "a poison record was dead-lettered twice"
    reasons = Counter(dict(r.headers)["dlq-exception"].decode()
                      for r in dead_letters(stack, dlq_topic(topic), f"poison-{run}-".encode()))
    print(f"\n{len(records)} poison records, {sum(found.values())} dead letters in "
          f"{len(groups)} groups, exceptions {dict(reasons)}")


def relay_killed_around_filing(stack, *, before: bool) -> tuple[list[str], int]:
    """Three closed items failed by one inspection, the inspections relay SIGKILLed just before
    or just after the results are filed; answers the items and the events of the inspection
    still held in its outbox with the relay dead."""
    item_ids = closed_items(stack, 3)
    inspection = plan_inspection(stack, item_ids)
    start_inspection(stack, inspection["id"])
    if before:
        stack.kill("inspections-relay")
    file_results(stack, inspection["id"], [
        {"item_id": item_id, "outcome": "fail", "findings": "整改不到位"} for item_id in item_ids],
        key=str(uuid.uuid4()))
    stack.kill("inspections-relay")
    changes = mongo.database(stack.settings, "inspections")["inspection_changes"]
    held = sum(len(c.get("outbox", [])) for c in changes.find({"inspection_id": inspection["id"]}))
    print(f"\nrelay killed {'before' if before else 'after'} filing: {held} events of the "
          f"inspection held in its outbox, {reopened_count(stack, item_ids)} of "
          f"{len(item_ids)} items already reopened")
    return item_ids, held


def test_killing_the_inspections_relay_right_after_filing_loses_no_reopening(stack):
    item_ids, _ = relay_killed_around_filing(stack, before=False)
    stack.start("inspections-relay")
    assert_reopened_exactly_once(stack, item_ids, timeout=60)


def test_results_filed_while_the_relay_is_dead_wait_in_the_outbox_and_reopen_on_its_return(stack):
    item_ids, held = relay_killed_around_filing(stack, before=True)
    # Three failed checks and the completion, at least, wait for the relay.
    assert held >= len(item_ids) + 1
    assert reopened_count(stack, item_ids) == 0
    stack.start("inspections-relay")
    assert_reopened_exactly_once(stack, item_ids, timeout=60)
