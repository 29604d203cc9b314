"""Fair delivery on the real database: ten subscriptions whose endpoints refuse connections, with
many retries due, do not hold up a healthy subscription; their circuits open, are probed, and
close when the endpoint is back, and none of their deliveries is lost."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from services.notifications import recording
from services.notifications.dispatcher import Dispatcher
from services.notifications.domain.circuit import REFUSALS_TO_OPEN
from services.notifications.domain.deliveries import DELIVERED, PENDING
from services.notifications.domain.subscriptions import Subscription
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.domain import Caller
from tests.integration.notifications.conftest import Receiver
from tests.unit.notifications.events import issue_created

DEAD = 10
DUE_EACH = 40
HEALTHY_EVENTS = 5
CONCURRENCY = 16
SCHEDULE = (0, 1, 1, 1, 1, 1, 1, 1, 1)  # enough attempts that no refusal here uses them all


CITY = Caller("city-office", "city_admin")


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subscribe(stores: Stores, id_: str, url: str, county: str) -> None:
    assert stores.subscriptions.add(Subscription.create(
        id=id_, caller=CITY, url=url, event_types=["*"], counties=[county], known_types=[],
        known_counties=[county], now=datetime.now(UTC)))


@pytest.fixture
def fair_settings(notify_settings):
    return dataclasses.replace(notify_settings, webhook_retry_schedule=SCHEDULE)


@pytest.fixture
def stores(fair_settings) -> Stores:
    db = mongo.database(fair_settings, "notifications")
    ensure_indexes(db)
    return Stores.on(db)


def record(stores: Stores, county: str, count: int, first_offset: int) -> None:
    batch = [(issue_created(county), ("supervision.issues.v1", 0, first_offset + n))
             for n in range(count)]
    recording.record_events(stores, batch, schedule=SCHEDULE, now=datetime.now(UTC))


def one_pass(dispatcher: Dispatcher) -> list:
    """A dispatcher pass with the probes and attempts made in line: write what ended, probe the
    open circuits due, claim, send."""
    dispatcher.finish()
    for sub_id in dispatcher.due_probes():
        dispatcher.probe(sub_id)
    claimed = dispatcher.claim()
    for delivery in claimed:
        dispatcher.attempt(delivery)
    return claimed


def test_dead_endpoints_with_many_due_retries_do_not_hold_up_a_healthy_subscription(
        fair_settings, stores, receiver):
    dead_port = closed_port()
    dead = [f"dead-{n}" for n in range(DEAD)]
    for id_ in dead:
        subscribe(stores, id_, f"http://127.0.0.1:{dead_port}/hooks", "330603")
    record(stores, "330603", DUE_EACH, 0)
    # Every one of them a retry already: attempted once, due again now.
    stores.deliveries.collection.update_many({}, {"$set": {"attempts": 1,
                                                           "last_error": "refused"}})
    subscribe(stores, "healthy", receiver.url, "330602")
    record(stores, "330602", HEALTHY_EVENTS, DUE_EACH)

    dispatcher = Dispatcher(fair_settings, concurrency=CONCURRENCY, per_subscription=4)
    passes = [one_pass(dispatcher)]
    # Round robin, a share of the slots each (16 for 11: two at most): every subscription with
    # due work gets one, and no slot is left unused.
    first = Counter(d.subscription_id for d in passes[0])
    assert set(first) == {*dead, "healthy"}
    assert sum(first.values()) == CONCURRENCY and max(first.values()) == 2
    while len(set(receiver.ids())) < HEALTHY_EVENTS and len(passes) < 20:
        passes.append(one_pass(dispatcher))
    dispatcher.finish()
    assert len(set(receiver.ids())) == HEALTHY_EVENTS
    # Each dead endpoint was tried until its circuit opened, and the attempts already on their
    # way then (two at most at once here), no more: the rest of its deliveries wait untouched,
    # none given up.
    tries = Counter(d.subscription_id for claimed in passes for d in claimed)
    assert all(tries[id_] <= REFUSALS_TO_OPEN + 2 for id_ in dead), tries
    assert all(dispatcher.circuits[id_].is_open for id_ in dead)
    assert len(passes) <= REFUSALS_TO_OPEN + HEALTHY_EVENTS
    dead_states = Counter(d["status"] for d in stores.deliveries.collection.find(
        {"subscription_id": {"$in": dead}}))
    assert dead_states == {PENDING: DEAD * DUE_EACH}

    # The endpoints come back: each circuit's probe connects after its cool-down, it closes,
    # and every delivery held back goes out, once.
    back = Receiver()
    back.stop()
    back.port = dead_port
    back.start()
    try:
        deadline = time.monotonic() + 120  # a circuit's first cool-down is 5 s
        while len(back.requests) < DEAD * DUE_EACH and time.monotonic() < deadline:
            if not one_pass(dispatcher):
                time.sleep(0.2)
        dispatcher.finish()
    finally:
        back.stop()
    assert set(Counter(back.ids()).values()) == {DEAD}  # each event once to each subscription
    assert len(back.requests) == DEAD * DUE_EACH
    assert not any(dispatcher.circuits[id_].is_open for id_ in dead)
    states = Counter(d["status"] for d in stores.deliveries.collection.find({}))
    assert states == {DELIVERED: DEAD * DUE_EACH + HEALTHY_EVENTS}
