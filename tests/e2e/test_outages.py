"""Outages of the infrastructure under a whole system of its own (`make run`'s scripts, in a
private state directory and ports): the broker away for 30 s, the database away, and every
process SIGKILLed at once followed by `make run` again. Nothing accepted is lost, nothing is
applied twice, and the system recovers by itself.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from shared import mongo
from tests.e2e.flows import (
    KEQIAO,
    assert_reopened_exactly_once,
    closed_items,
    create_item,
    file_failures,
    ok,
    started_inspection,
    subscribe,
)
from tests.e2e.system import SERVICES, LocalSystem
from tests.receiver import Receiver
from tests.support import eventually

BROKER_AWAY_SECONDS = 30

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def receiver(system):
    """A county system of 柯桥区 subscribed to every event of the county."""
    with Receiver() as receiver:
        receiver.secret = subscribe(system, receiver.url, KEQIAO)["secret"]
        yield receiver


def readiness(system: LocalSystem, service: str) -> tuple[int, dict]:
    answer = requests.get(f"{system.urls[service]}/readyz", timeout=10)
    return answer.status_code, answer.json()


def heard_reopened(receiver: Receiver, item_ids: list[str]) -> bool:
    return {e["subject"] for e in receiver.of_type("issue.reopened")} >= set(item_ids)


def test_results_filed_while_the_broker_is_away_are_answered_and_all_arrive_after_it_returns(
        system, receiver):
    batches = [closed_items(system, 3) for _ in range(3)]
    inspections = [started_inspection(system, batch) for batch in batches]

    system.down("kafka")
    away = time.monotonic()
    status, body = eventually(lambda: (s := readiness(system, "inspections"))[0] == 503 and s,
                              timeout=30, message="/readyz never noticed the broker was away")
    assert set(body["failures"]) == {"kafka"}, body
    # Filing keeps answering: the results and their events are in the database, the events
    # wait in the outbox. So does every other write.
    for inspection_id, batch in zip(inspections, batches, strict=True):
        assert file_failures(system, inspection_id, batch)["status"] == "completed"
        time.sleep(BROKER_AWAY_SECONDS / 4)
    created_while_away = create_item(system)
    time.sleep(max(0.0, BROKER_AWAY_SECONDS - (time.monotonic() - away)))
    print(f"\nbroker away {time.monotonic() - away:.0f} s; {len(inspections)} filings and one "
          f"new item answered meanwhile")

    system.up("kafka")
    back = time.monotonic()
    item_ids = [item_id for batch in batches for item_id in batch]
    assert_reopened_exactly_once(system, item_ids, timeout=180)
    eventually(lambda: heard_reopened(receiver, item_ids), timeout=120,
               message="the county system did not hear of every reopening")
    created = [e for e in receiver.of_type("issue.created")
               if e["subject"] == created_while_away["id"]]
    assert created, "the item created while the broker was away was never announced"
    print(f"all {len(item_ids)} reopened once and heard {time.monotonic() - back:.0f} s after the "
          f"broker returned")
    for service in SERVICES:
        assert readiness(system, service)[0] == 200


@pytest.mark.parametrize("component", ["ferretdb", "postgres"])
def test_with_the_database_away_writes_are_refused_whole_and_the_system_recovers(
        system, receiver, component):
    """``ferretdb``: the MongoDB endpoint itself is gone. ``postgres``: FerretDB answers but
    its storage is gone. Either way the services say so and change nothing."""
    before = create_item(system)
    problem = f"停电测试 {uuid.uuid4().hex[:8]}"
    system.down(component)
    try:
        for service in SERVICES:
            status, body = eventually(lambda s=service: (r := readiness(system, s))[0] == 503 and r,
                                      timeout=30, message=f"{service} /readyz never noticed")
            assert set(body["failures"]) == {"database"}, body
        refused = requests.post(
            f"{system.urls['issues']}/v1/items", timeout=60,
            json={"county": KEQIAO, "township": "钱清镇", "village": "东村", "problem": problem,
                  "measure": "建立台账", "deadline": "2027-03-31", "responsible": "李某某",
                  "category": "软弱落后", "public": True},
            headers=system.token("county_admin", KEQIAO))
        assert refused.status_code == 503, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers.get("Retry-After")
        url = f"{system.urls['issues']}/v1/items/{before['id']}"
        moved = requests.post(
            f"{url}/transitions", json={"to": "in_progress", "reason": "开始整改"}, timeout=60,
            headers={**system.token("county_admin", KEQIAO), "If-Match": '"1"'})
        assert moved.status_code == 503, moved.text
        subscribed = requests.post(
            f"{system.urls['notifications']}/v1/subscriptions", timeout=60,
            json={"url": receiver.url, "event_types": ["*"], "counties": [KEQIAO]},
            headers=system.token("county_admin", KEQIAO))
        assert subscribed.status_code == 503, subscribed.text
    finally:
        system.up(component)

    for service in SERVICES:
        eventually(lambda s=service: readiness(system, s)[0] == 200, timeout=60,
                   message=f"{service} did not recover")
    # Nothing of the refused writes happened.
    items = mongo.database(system.settings, "issues")["items"]
    assert items.count_documents({"problem": problem}) == 0
    assert ok(requests.get(url, headers=system.token("city_admin")))["status"] == "open"
    # And the whole flow works again, to the county system.
    item_ids = closed_items(system, 2)
    file_failures(system, started_inspection(system, item_ids), item_ids)
    assert_reopened_exactly_once(system, item_ids, timeout=120)
    eventually(lambda: heard_reopened(receiver, item_ids), timeout=120,
               message="the county system did not hear of the reopenings after the outage")


def test_everything_killed_right_after_filing_then_make_run_again_loses_nothing(
        system, receiver):
    item_ids = closed_items(system, 5)
    inspection_id = started_inspection(system, item_ids)
    file_failures(system, inspection_id, item_ids)
    killed = system.crash()
    print(f"\nSIGKILLed {killed} processes right after filing")
    assert not any(system.ready(service) for service in SERVICES)

    system.start()
    # After an unclean stop the broker recovers its logs and each consumer group first waits
    # out its dead members (up to their 60 s poll interval): slow on a loaded machine.
    assert_reopened_exactly_once(system, item_ids, timeout=300)
    eventually(lambda: heard_reopened(receiver, item_ids), timeout=120,
               message="the county system did not hear of the reopenings after the restart")
    inspection = ok(requests.get(f"{system.urls['inspections']}/v1/inspections/{inspection_id}",
                                 headers=system.token("city_admin")))
    assert inspection["status"] == "completed"
    assert sorted(c["item_id"] for c in inspection["checks"]) == sorted(item_ids)
