"""Claiming a due delivery on the real database: of dispatchers racing for the same delivery,
exactly one takes it; and a claim whose dispatcher died before taking the delivery holds it up
for one lease at most."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain.deliveries import IN_FLIGHT, Delivery
from services.notifications.repository import Deliveries, claim_id, ensure_indexes
from shared import mongo

RACERS = 8
LEASE = timedelta(seconds=20)


@pytest.fixture
def deliveries(settings) -> Deliveries:
    db = mongo.database(settings, "notifications")
    ensure_indexes(db)
    return Deliveries(db)


def due_delivery(deliveries: Deliveries, n: int = 0) -> Delivery:
    now = datetime.now(UTC).replace(microsecond=0)
    delivery = Delivery(id=f"sub-1:event-{n}", subscription_id="sub-1", event_id=f"event-{n}",
                        event_type="issue.reopened", subject="item-1", seq=n, event_time=now,
                        next_attempt_at=now - timedelta(seconds=1))
    deliveries.ensure_many([delivery])
    return deliveries.get(delivery.id)  # as a dispatcher reads it: stored, then read back


def race(deliveries: Deliveries, read: Delivery) -> list[str]:
    """RACERS dispatchers claim the same delivery at the same instant: who won."""
    now = datetime.now(UTC)
    start, won = threading.Barrier(RACERS), []

    def racer(name: str) -> None:
        start.wait()
        if deliveries.claim_many([read], now, now + LEASE, name):
            won.append(name)

    threads = [threading.Thread(target=racer, args=(f"dispatcher-{i}",)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_of_dispatchers_racing_for_one_due_delivery_exactly_one_takes_it(deliveries):
    for n in range(5):
        read = due_delivery(deliveries, n)
        won = race(deliveries, read)
        assert len(won) == 1, (n, won)
        stored = deliveries.collection.find_one({"_id": read.id})
        assert (stored["status"], stored["holder"]) == (IN_FLIGHT, won[0])


def test_a_claim_left_by_a_dispatcher_that_died_holds_the_delivery_up_one_lease_at_most(
        deliveries):
    read = due_delivery(deliveries)
    now = datetime.now(UTC)
    window = int(now.timestamp() // LEASE.total_seconds())
    # The dispatcher inserted its claim and died before taking the delivery.
    deliveries.claims.insert_one({"_id": claim_id(read, window), "holder": "dead", "at": now})
    assert deliveries.claim_many([read], now, now + LEASE, "alive") == []
    later = now + LEASE
    [taken] = deliveries.claim_many([read], later, later + LEASE, "alive")
    assert taken is not None and taken.status == IN_FLIGHT
