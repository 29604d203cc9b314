"""Concurrent writers on the real database: no subscription change is lost, and no sequence
number is handed out twice, when several API workers change one subscription at the same
moment and several consumers reserve sequence numbers at the same moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifications import handlers
from services.notifications.domain.subscriptions import Subscription
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.domain import Caller
from tests.support import together

WRITERS = 8
ROUNDS = 5
GRACE = timedelta(days=1)


CITY = Caller("city-office", "city_admin")


@pytest.fixture
def stores(settings) -> Stores:
    db = mongo.database(settings, "notifications")
    ensure_indexes(db)
    return Stores.on(db)


def test_of_api_workers_rotating_one_subscription_at_once_every_answered_secret_signs(stores):
    now = datetime.now(UTC)
    subscription = Subscription.create(
        id="sub-race", caller=CITY, url="https://hooks.example.cn/in", event_types=["*"],
        counties=["*"], known_types=[], known_counties=[], now=now)
    assert stores.subscriptions.add(subscription)
    for round_ in range(ROUNDS):
        answered = together(lambda _: handlers.rotate_secret(
            stores, CITY, "sub-race", grace=GRACE, now=now)[1], WRITERS)
        signing = set(stores.subscriptions.get("sub-race").signing_secrets(now))
        # A secret the API answered but the subscription does not hold was a lost change.
        assert set(answered) <= signing, (round_, len(set(answered) - signing))


def test_of_consumers_reserving_sequence_numbers_at_once_none_gets_a_number_twice(stores):
    batch = 3
    handed_out: list[int] = []
    for _ in range(ROUNDS):
        firsts = together(lambda _: stores.events.reserve_seqs(batch), WRITERS)
        handed_out += [first + n for first in firsts for n in range(batch)]
    assert len(handed_out) == len(set(handed_out)) == ROUNDS * WRITERS * batch
