"""Retention on the real database: events, finished deliveries, attempts and delivery claims past
their retention are swept, everything else stays as it was, and a replay within the window still
delivers; a later sweep takes the days that passed since, by their day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifications import delivering, handlers
from services.notifications.domain.deliveries import DELIVERED, PENDING, Attempt, Delivery
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.retention import Retention
from services.notifications.domain.subscriptions import Subscription
from services.notifications.repository import Stores, Sweeper, ensure_indexes
from shared import mongo
from shared.domain import Caller

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RETENTION = Retention.of(event_days=30, attempt_days=90, claim_days=1,
                         retry_schedule=(0, 5, 300))
AGES = (200, 95, 60, 31, 29, 10, 2, 0)  # days before NOW


CITY = Caller("city-office", "city_admin")


@pytest.fixture
def db(settings):
    database = mongo.database(settings, "notifications")
    ensure_indexes(database)
    return database


def store_day(stores: Stores, age: int, *, now: datetime) -> str:
    """What a day ``age`` days before ``now`` left: an event, its delivery (delivered), the
    attempt and the claim of it; a second event whose delivery is still retrying."""
    at = now - timedelta(days=age)
    ids = []
    for n, kind in enumerate(("done", "retrying")):
        event = StoredEvent(id=f"e-{age}-{kind}-{now.date()}", type="issue.created",
                            county="330602", subject=f"item-{age}-{kind}", time=at,
                            seq=age, partition=f"supervision.issues.v1:{now.day}",
                            offset=age * 2 + n,
                            envelope={"id": f"e-{age}-{kind}"})
        stores.events.add_many([event], received=at)
        ids.append(event.id)
        delivery = Delivery(id=Delivery.id_for("sub", event.id), subscription_id="sub",
                            event_id=event.id, event_type=event.type, subject=event.subject,
                            seq=age, event_time=at, next_attempt_at=at)
        stores.deliveries.ensure_many([delivery])
        if kind == "done":
            [claimed] = stores.deliveries.claim_many([delivery], at, at + timedelta(minutes=1),
                                                     "w")
            claimed.status, claimed.attempts = DELIVERED, 1
            stores.deliveries.finish_many([claimed], "w")
            stores.attempts.add_many([Attempt(
                delivery_id=delivery.id, subscription_id="sub", event_id=event.id,
                event_type=event.type, number=1, at=at, outcome="success", status=204,
                latency_ms=3.0, error=None, next_attempt_at=None)])
    return ids[0]


def ids(collection) -> set[str]:
    return {doc["_id"] for doc in collection.find({}, {"_id": 1})}


def test_records_past_their_retention_are_swept_and_the_rest_stay_and_replay_still_works(db):
    stores = Stores.on(db)
    stores.subscriptions.add(Subscription.create(
        id="sub", caller=CITY, url="https://hooks.example.cn/in", event_types=["*"],
        counties=["*"], known_types=[], known_counties=[], now=NOW - timedelta(days=300)))
    done = {age: store_day(stores, age, now=NOW) for age in AGES}
    before = {name: list(db[name].find({})) for name in ("events", "deliveries", "attempts",
                                                         "delivery_claims")}

    deleted = delivering.sweep(Sweeper(db), RETENTION, turn="t1", now=NOW)

    deliveries = {d["_id"]: d for d in db.deliveries.find({})}
    assert ids(db.events) == {f"e-{age}-{kind}-2026-12-01" for age in AGES if age <= 30
                              for kind in ("done", "retrying")}
    assert {d["event_id"] for d in deliveries.values() if d["status"] == DELIVERED} == {
        done[age] for age in AGES if age <= 30}
    # A delivery still on its way stays, whatever its age.
    assert sum(d["status"] == PENDING for d in deliveries.values()) == len(AGES)
    assert {a["event_id"] for a in db.attempts.find({})} == {done[age] for age in AGES
                                                            if age <= 90}
    assert {c["at"].date() for c in db.delivery_claims.find({})} == {
        (NOW - timedelta(days=age)).date() for age in AGES if age <= 1}
    assert deleted == {"events": 8, "attempts": 2, "delivery_claims": 7, "deliveries": 4}
    # What stays is exactly as it was.
    for name, docs in before.items():
        stayed = {doc["_id"]: doc for doc in db[name].find({})}
        assert all(stayed[doc["_id"]] == doc for doc in docs if doc["_id"] in stayed), name
    # A turn is taken once.
    assert delivering.sweep(Sweeper(db), RETENTION, turn="t1", now=NOW) is None

    # Replay within the window still delivers the events kept.
    count, more = handlers.replay(stores, CITY, "sub", since=NOW - timedelta(days=29, hours=1),
                                  now=NOW)
    assert (count, more) == (4, None)  # the done events of 29, 10, 2 and 0 days ago
    assert sum(d["status"] == PENDING for d in db.deliveries.find({})) == len(AGES) + 4

    # Three days later, with more records stored meanwhile: the next sweep takes the days
    # that passed since, by their day.
    later = NOW + timedelta(days=3)
    fresh = store_day(stores, 0, now=later)
    delivering.sweep(Sweeper(db), RETENTION, turn="t2", now=later)
    assert {e for e in ids(db.events) if e.endswith("-done-2026-12-01")} == {
        done[age] for age in AGES if age <= 27}
    assert fresh in ids(db.events)
