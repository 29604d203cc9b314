"""Across the real broker: issue events feed this service's copy of the items, and a failed
check leaves through the outbox as inspection.check_failed keyed by the item id (rule R's input)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from kafka import KafkaConsumer
from prometheus_client import REGISTRY

from services.inspections.app import create_app
from services.inspections.consumer import handlers_for
from services.inspections.repository import MongoItemCopy
from shared import mongo
from shared.auth import mint
from shared.consumer import ConsumerRunner
from shared.events import INSPECTIONS_TOPIC, ISSUES_TOPIC, encode, new_event, parse, record_key
from shared.kafka import producer
from shared.outbox import Relay
from tests.integration.inspections.conftest import TEAM, YUECHENG, copied, plan_body
from tests.support import eventually


def issue_event(item_id: str, version: int, status: str = "open", type_="issue.created") -> dict:
    at = datetime.now(UTC)
    item = {"id": item_id, "county": YUECHENG, "township": "灵芝镇", "village": "大善村",
            "problem": "党员不配合无违建村创建", "measure": "党员带头拆除违章建筑",
            "deadline": date(2026, 6, 30), "responsible": "张三", "status": status,
            "reopen_count": 0, "version": version, "created_at": at, "updated_at": at}
    data = {"item": item}
    if type_ == "issue.status_changed":
        data |= {"from_": "open", "to": status}  # the catalog schema dumps from_ as "from"
    return new_event(type_, subject=item_id, county=YUECHENG, data=data, itemversion=version)


@pytest.fixture
def running(kafka_settings):
    """The copy's consumer and the outbox relay, each in a thread, stopped afterwards."""
    settings = kafka_settings
    runner = ConsumerRunner("inspections", settings, handlers_for(settings),
                            topics=(settings.topic(ISSUES_TOPIC),),
                            group_id=f"inspections-{uuid.uuid4().hex[:8]}")
    relay_producer = producer(settings, "inspections-relay-test")
    stop = threading.Event()
    relay = Relay(mongo.database(settings, "inspections"), relay_producer, "inspections",
                  settings)
    threads = [threading.Thread(target=runner.run, daemon=True),
               threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    yield settings
    runner.stop.set()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    relay_producer.close(timeout=5)


def stale_snapshots() -> float:
    """Snapshots the copy's consumer found stale or repeated, so far in this process."""
    return REGISTRY.get_sample_value("supervision_events_consumed_total", {
        "service": "inspections", "type": "issue.created", "outcome": "duplicate"}) or 0.0


def publish(settings, *envelopes: dict) -> None:
    kafka = producer(settings, "issues-test")
    for envelope in envelopes:
        kafka.send(settings.topic(ISSUES_TOPIC), key=record_key(envelope), value=encode(envelope))
    kafka.flush(timeout=15)
    kafka.close(timeout=5)


def test_issue_events_feed_the_copy_and_a_failed_check_is_published_keyed_by_item(running):
    settings = running
    copy = MongoItemCopy(mongo.database(settings, "inspections"))
    stale_before = stale_snapshots()
    # The newer snapshot arrives first on purpose: the older one must not overwrite it.
    publish(settings, issue_event("item-a", 2, "in_progress", "issue.status_changed"),
            issue_event("item-a", 1), issue_event("item-b", 1))
    eventually(lambda: set(copy.get_many(["item-a", "item-b"])) == {"item-a", "item-b"}
               and stale_snapshots() > stale_before, message="the copy did not take the items")
    assert copy.get_many(["item-a"])["item-a"].status == "in_progress"

    client = create_app(settings).test_client()
    city = {"Authorization": f"Bearer {mint(settings.jwt_secret, sub='city', role='city_admin')}"}
    wang = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub=TEAM[0]["sub"],
                                              role="inspector", county=TEAM[0]["county"])}
    planned = client.post("/v1/inspections", json=plan_body(item_ids=["item-a", "item-b"]),
                          headers=city)
    assert planned.status_code == 201, planned.get_json()
    inspection_id = planned.get_json()["id"]
    assert client.post(f"/v1/inspections/{inspection_id}/start", headers=wang).status_code == 200
    observed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    filed = client.post(f"/v1/inspections/{inspection_id}/results", headers=wang, json={
        "checks": [{"item_id": "item-a", "outcome": "fail", "findings": "违章建筑仍未拆除",
                    "evidence": ["photo:a.jpg"], "observed_at": observed},
                   {"item_id": "item-b", "outcome": "pass", "observed_at": observed}]})
    assert filed.status_code == 200, filed.get_json()

    consumer = KafkaConsumer(settings.topic(INSPECTIONS_TOPIC),
                             bootstrap_servers=settings.kafka_bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000,
                             group_id=f"reader-{uuid.uuid4().hex[:8]}")
    received: list = []

    def check_failed_arrived():
        received.extend(consumer)
        return [r for r in received if parse(r.value).type == "inspection.check_failed"]

    try:
        [record] = eventually(check_failed_arrived, timeout=30,
                              message="inspection.check_failed was not published")
    finally:
        consumer.close()
    event = parse(record.value)
    assert record.key == b"item-a" and event.subject == "item-a" and event.county == YUECHENG
    assert event.data["inspection_id"] == inspection_id
    assert event.data["findings"] == "违章建筑仍未拆除"
    types = {parse(r.value).type for r in received}
    assert {"inspection.planned", "inspection.started", "inspection.check_passed",
            "inspection.completed"} <= types


def test_no_start_or_filing_is_lost_while_the_relay_publishes_beside_it(running):
    settings = running
    db = mongo.database(settings, "inspections")
    MongoItemCopy(db).upsert_newer(copied("item-c"), datetime.now(UTC))
    client = create_app(settings).test_client()
    city = {"Authorization": f"Bearer {mint(settings.jwt_secret, sub='city', role='city_admin')}"}
    wang = {"Authorization": "Bearer " + mint(settings.jwt_secret, sub=TEAM[0]["sub"],
                                              role="inspector", county=TEAM[0]["county"])}
    observed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    filing = {"checks": [{"item_id": "item-c", "outcome": "pass", "observed_at": observed}]}
    planned = []
    for _ in range(15):  # each step's events are being relayed while the next step writes
        inspection_id = client.post("/v1/inspections", json=plan_body(item_ids=["item-c"]),
                                    headers=city).get_json()["id"]
        assert client.post(f"/v1/inspections/{inspection_id}/start",
                           headers=wang).status_code == 200
        filed = client.post(f"/v1/inspections/{inspection_id}/results", json=filing,
                            headers=wang)
        assert filed.status_code == 200, filed.get_json()
        planned.append(inspection_id)
    eventually(lambda: db.inspection_changes.count_documents({"outbox_pending": True}) == 0,
               message="the relay did not publish everything")
    statuses = {client.get(f"/v1/inspections/{i}", headers=city).get_json()["status"]
                for i in planned}
    assert statuses == {"completed"}
    assert db.inspections.count_documents({"status": "completed"}) == len(planned)
