"""What a dispatcher's pass reads on the real database: with thousands of deliveries pending but
not yet due (retries waiting for their time), reading what is due selects by equalities only the
few that are due, so FerretDB 1.24 (which hands PostgreSQL nothing but top-level equalities, and
decodes everything they select) decodes a bounded number of them; and of many subscriptions a
pass reads only those with due work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from services.notifications import delivering
from services.notifications.domain.deliveries import IN_FLIGHT, PENDING, Delivery
from services.notifications.domain.subscriptions import Subscription
from services.notifications.repository import (
    DUE_BUCKET_SECONDS,
    SEQ_PAGE,
    Stores,
    ensure_indexes,
)
from shared import mongo
from shared.domain import Caller
from tests.support import Finds, equalities

WAITING = 3000  # retries due in five minutes (or, in a backlog, all due at once)
DUE = 3


SUBSCRIPTIONS = 50
LEASE = timedelta(seconds=20)


def delivery_filters(finds: Finds) -> list[dict]:
    return [f for f, _ in finds.of("deliveries")]


def delivery(n: int, due: datetime, subscription_id: str = "sub-1") -> Delivery:
    return Delivery(id=f"{subscription_id}:event-{n}", subscription_id=subscription_id,
                    event_id=f"event-{n}", event_type="issue.reopened", subject=f"item-{n}",
                    seq=n, event_time=due, next_attempt_at=due)


CITY = Caller("city-office", "city_admin")


def subscribe(stores: Stores, id_: str) -> None:
    assert stores.subscriptions.add(Subscription.create(
        id=id_, caller=CITY, url="https://hooks.example.cn/in", event_types=["*"],
        counties=["330602"], known_types=[], known_counties=["330602"],
        now=datetime.now(UTC)))


def claim(stores: Stores, now: datetime, due: delivering.DueSubscriptions, *,
          holder: str = "w") -> list[Delivery]:
    """One dispatcher pass's claims."""
    return delivering.claim_due(stores, now=now, limit=16, lease=LEASE, holder=holder, busy={},
                                per_subscription=4, due=due)


def named(finds: Finds) -> set[str]:
    """The subscriptions the finds were for."""
    return {f["subscription_id"] for _, f, _ in finds.finds if "subscription_id" in f}


@pytest.fixture
def watched(settings):
    """The stores over a client whose finds on the deliveries are watched."""
    db = mongo.database(settings, "notifications")
    ensure_indexes(db)
    finds = Finds()
    client = MongoClient(settings.mongodb_uri, tz_aware=True, event_listeners=[finds])
    yield Stores.on(db), Stores.on(client[db.name]), finds
    client.close()


def test_a_pass_decodes_only_what_is_due(watched):
    stores, seen, finds = watched
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(minutes=5)
    stores.deliveries.ensure_many([delivery(n, later) for n in range(WAITING)])
    stores.deliveries.ensure_many([delivery(WAITING + n, now) for n in range(DUE)])

    # What a pass reads of one subscription: its due deliveries, their subjects' heads.
    at = now + timedelta(seconds=1)
    due = seen.deliveries.due_of("sub-1", at, limit=16)
    heads = seen.deliveries.heads_of({"sub-1": {d.subject for d in due}})["sub-1"]

    assert [d.seq for d in due] == list(range(WAITING, WAITING + DUE))
    assert {s: h.seq for s, h in heads.items()} == {d.subject: d.seq for d in due}
    assert delivery_filters(finds), "the pass read no deliveries"
    # What each find selected by its equalities: what FerretDB decoded for it.
    deliveries = stores.deliveries.collection
    decoded = sum(deliveries.count_documents(equalities(f)) for f in delivery_filters(finds))
    assert decoded == 2 * DUE  # the due page, and each due subject's own deliveries
    assert deliveries.count_documents({"status": PENDING}) == WAITING + DUE


def test_what_was_waiting_is_read_once_due(watched):
    stores, seen, _ = watched
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(seconds=3 * DUE_BUCKET_SECONDS)
    stores.deliveries.ensure_many([delivery(n, later) for n in range(DUE)])

    assert seen.deliveries.due_of("sub-1", now, limit=10) == []
    due = seen.deliveries.due_of("sub-1", later, limit=10)
    assert [d.seq for d in due] == list(range(DUE))
    # A bucket long past and read empty loses its marker; one still filling keeps it.
    stores.deliveries.markers.insert_one({"_id": "sub-1|1|0", "subscription_id": "sub-1",
                                          "bucket": 1, "page": 0})
    seen.deliveries.due_of("sub-1", later, limit=10)
    assert stores.deliveries.markers.count_documents({"bucket": 1}) == 0
    assert stores.deliveries.markers.count_documents({"subscription_id": "sub-1"}) == 1


def test_a_backlog_due_at_once_is_read_a_page_at_a_time(watched):
    stores, seen, finds = watched
    now = datetime.now(UTC).replace(microsecond=0)
    stores.deliveries.ensure_many([delivery(n, now) for n in range(WAITING)])

    due = seen.deliveries.due_of("sub-1", now, limit=16)

    assert [d.seq for d in due] == list(range(16))
    deliveries = stores.deliveries.collection
    read = sum(deliveries.count_documents(equalities(f)) for f in delivery_filters(finds))
    assert read == SEQ_PAGE


def test_a_pass_reads_only_the_subscriptions_with_due_work(watched):
    stores, seen, finds = watched
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(minutes=5)
    ids = [f"sub-{n:02}" for n in range(SUBSCRIPTIONS)]
    for id_ in ids:
        subscribe(stores, id_)
    # One has a delivery due; every other one a retry waiting for its time.
    stores.deliveries.ensure_many([delivery(n, later, id_) for n, id_ in enumerate(ids[1:])])
    stores.deliveries.ensure_many([delivery(SUBSCRIPTIONS, now, ids[0])])
    due = delivering.DueSubscriptions()

    # A dispatcher's first pass reads every marker once, in one find.
    assert [d.subscription_id for d in claim(seen, now, due)] == [ids[0]]
    assert named(finds) == {ids[0]}
    first = len(finds.finds)
    # A pass after it reads the markers of a few buckets, each by equality, and nothing else of
    # the subscriptions with nothing due.
    finds.finds.clear()
    stores.deliveries.ensure_many([delivery(SUBSCRIPTIONS + 1, now, ids[7])])
    assert [d.subscription_id for d in claim(seen, now + timedelta(seconds=1), due)] == [ids[7]]
    assert named(finds) <= {ids[0], ids[7]}
    assert max(first, len(finds.finds)) <= 12  # a handful of finds, whatever the subscriptions
    markers = stores.deliveries.markers
    assert sum(markers.count_documents(equalities(f)) for c, f, _ in finds.finds
               if c == "due_buckets" and "subscription_id" not in f) <= 2


def test_what_a_pass_did_not_read_is_found_when_it_falls_due(watched):
    stores, seen, _ = watched
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(seconds=3 * DUE_BUCKET_SECONDS)
    for id_ in ("sub-a", "sub-b"):
        subscribe(stores, id_)
    stores.deliveries.ensure_many([delivery(1, later, "sub-a")])
    due = delivering.DueSubscriptions()
    assert claim(seen, now, due) == []
    # Stopped before its delivery fell due: the delivery is still claimed, to be cancelled.
    stopped = stores.subscriptions.get("sub-a")
    stopped.delete()
    stores.subscriptions.save(stopped)

    assert claim(seen, later - timedelta(seconds=1), due) == []
    [taken] = claim(seen, later, due, holder="died")
    assert (taken.subscription_id, taken.status) == ("sub-a", IN_FLIGHT)
    # Its dispatcher died: the lease runs out, and a pass long after still finds it.
    after = later + LEASE + timedelta(minutes=2)
    assert [d.id for d in claim(seen, after, due)] == [taken.id]
    # A dispatcher started afresh reads every marker: what was due meanwhile is not lost.
    stores.deliveries.ensure_many([delivery(2, after, "sub-b")])
    restarted = delivering.DueSubscriptions()
    assert [d.subscription_id for d in claim(seen, after, restarted)] == ["sub-b"]
