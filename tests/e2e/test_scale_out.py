"""Two instances of every web service and every worker, in the same consumer groups and leases:
the partitions split between the instances, a burst through both reopens each item once and the
county hears each reopening, and killing one instance of everything mid-burst loses nothing.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from kafka.admin import KafkaAdminClient

from shared.events import INSPECTIONS_TOPIC, ISSUES_TOPIC
from shared.kafka import ensure_topics
from tests.e2e.conftest import WORKERS, Stack, launch
from tests.e2e.flows import (
    KEQIAO,
    assert_reopened_exactly_once,
    closed_items,
    fail_all,
    ok,
    reopened_count,
    subscribe,
)
from tests.receiver import Receiver
from tests.support import eventually

PARTITIONS = 4
SECOND = "#2"
GROUPS = {  # consumer group → the topics it reads
    "issues-consumer": (INSPECTIONS_TOPIC,),
    "inspections-consumer": (ISSUES_TOPIC,),
    "notifications-consumer": (ISSUES_TOPIC, INSPECTIONS_TOPIC),
}

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def pair(base_settings, tmp_path_factory) -> Stack:
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        base_settings, database_prefix=f"x2{run}", topic_prefix=f"x2{run}.",
        webhook_allowed_hosts=("127.0.0.1",), webhook_retry_schedule=(0, 1, 1, 2))
    ensure_topics(settings, partitions=PARTITIONS)
    stack = launch(settings, tmp_path_factory.mktemp("x2-logs"),
                   tmp_path_factory.mktemp("x2-metrics"), replicas=2)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def county_system(pair):
    with Receiver() as receiver:
        receiver.secret = subscribe(pair, receiver.url, KEQIAO)["secret"]
        yield receiver


def assignments(stack: Stack) -> dict[str, list[set[tuple[str, int]]]]:
    """Each consumer group's members, as the partitions each one holds."""
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap_servers)
    try:
        groups = [f"{stack.settings.topic_prefix}{group}" for group in GROUPS]
        described = admin.describe_consumer_groups(groups)
    finally:
        admin.close()
    found = {}
    for group in described:
        # A group in the middle of a rebalance has no decoded assignments yet.
        assert group.state == "Stable", f"{group.group} is {group.state}"
        found[group.group.removeprefix(stack.settings.topic_prefix)] = [
            {(topic, p) for topic, partitions in member.member_assignment.assignment
             for p in partitions}
            for member in group.members]
    return found


def split_between_two(stack: Stack) -> dict:
    found = assignments(stack)
    for group, topics in GROUPS.items():
        members = found[group]
        everything = {(stack.settings.topic(t), p) for t in topics for p in range(PARTITIONS)}
        assert len(members) == 2, f"{group}: {len(members)} members"
        assert all(members), f"{group}: an instance holds no partition: {members}"
        assert members[0].isdisjoint(members[1]), f"{group}: a partition held twice"
        assert members[0] | members[1] == everything, f"{group}: a partition unheld"
    return found


def heard_once_each(receiver: Receiver, item_ids: list[str]) -> Counter:
    """How many times each event about these items reached the county system."""
    return Counter(e["id"] for e in receiver.events if e["subject"] in item_ids)


def whole_feed(stack: Stack, types: str) -> list[dict]:
    """Every event of 柯桥区's pull feed of these types, page by page to the end."""
    events, cursor = [], None
    while True:
        page = ok(requests.get(f"{stack.urls['notifications']}/v1/feed",
                               params={"types": types, "limit": 500, "after": cursor},
                               headers=stack.token("county_admin", KEQIAO)))
        if not page["items"]:
            return events
        events += page["items"]
        cursor = page["next_cursor"]


def through_both(stack: Stack, count: int) -> list[str]:
    """Closed items, half created through each web instance."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        halves = pool.map(closed_items, [stack, stack.instance(SECOND)],
                          [count // 2, count - count // 2])
    return [item_id for half in halves for item_id in half]


def test_each_consumer_group_splits_the_partitions_between_its_two_instances(pair):
    found = eventually(lambda: split_between_two(pair), timeout=60, interval=1,
                       message="the partitions never split between the two instances")
    print("\n" + "; ".join(f"{group}: {' + '.join(str(len(m)) for m in members)} partitions"
                           for group, members in found.items()))


def test_a_burst_through_two_of_everything_reopens_each_item_once_and_is_heard(
        pair, county_system):
    item_ids = through_both(pair, 20)
    fail_all(pair.instance(SECOND), item_ids)
    assert_reopened_exactly_once(pair, item_ids, timeout=180)
    eventually(lambda: {e["subject"] for e in county_system.of_type("issue.reopened")}
               >= set(item_ids), timeout=120, message="a reopening was never heard")
    # Both notifications consumers store events, both dispatchers deliver: each event once in
    # the pull feed, and at least once (at-least-once permits a repeat) at the county system.
    in_feed = Counter(e["id"] for e in whole_feed(pair, "issue.reopened")
                      if e["subject"] in item_ids)
    assert len(in_feed) == len(item_ids) and max(in_feed.values()) == 1, in_feed
    heard = heard_once_each(county_system, item_ids)
    print(f"\n{len(item_ids)} items through two of everything: {len(heard)} events heard, "
          f"{sum(heard.values()) - len(heard)} repeats")
    assert county_system.rejected == []


def test_killing_one_instance_of_everything_mid_burst_loses_nothing(pair, county_system):
    item_ids = through_both(pair, 30)
    fail_all(pair, item_ids)
    eventually(lambda: reopened_count(pair, item_ids) >= 5, timeout=120, interval=0.05,
               message="the burst never got going")
    victims = [name for name in pair.processes if name.endswith(SECOND)]
    for name in victims:
        pair.kill(name)
    killed_at, done_at_kill = time.monotonic(), reopened_count(pair, item_ids)
    print(f"\nkilled {len(victims)} second instances with {done_at_kill} of {len(item_ids)} "
          f"reopened")
    assert_reopened_exactly_once(pair, item_ids, timeout=240)
    eventually(lambda: {e["subject"] for e in county_system.of_type("issue.reopened")}
               >= set(item_ids), timeout=180, message="a reopening was never heard")
    print(f"all {len(item_ids)} reopened once and heard, {time.monotonic() - killed_at:.0f} s "
          f"after the kill")
    assert county_system.rejected == []
    # The survivors hold every partition alone now.
    def held_alone() -> bool:
        survivors = assignments(pair)
        return all(len(survivors[group]) == 1 for group in GROUPS)

    eventually(held_alone, timeout=60, interval=1, message="the survivors never took over")
    assert all(pair.processes[name].running() for name in (*WORKERS, "issues"))
