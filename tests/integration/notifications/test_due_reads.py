"""What a dispatcher's pass reads of a subscription on the real database: with thousands of
deliveries pending but not yet due (retries waiting for their time), reading what is due selects
by equalities only the few that are due, so FerretDB 1.24 (which hands PostgreSQL nothing but
top-level equalities, and decodes everything they select) decodes a bounded number of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient, monitoring

from services.notifications.domain.deliveries import PENDING, Delivery
from services.notifications.repository import (
    DUE_BUCKET_SECONDS,
    SEQ_PAGE,
    Stores,
    ensure_indexes,
)
from shared import mongo

WAITING = 3000  # retries due in five minutes (or, in a backlog, all due at once)
DUE = 3


class Finds(monitoring.CommandListener):
    """The filter of every find on the deliveries."""

    def __init__(self):
        self.filters: list[dict] = []

    def started(self, event):
        if event.command_name == "find" and event.command["find"] == "deliveries":
            self.filters.append(event.command.get("filter", {}))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def equalities(query: dict) -> dict:
    """The part of a filter FerretDB 1.24 hands to PostgreSQL: its top-level equalities."""
    return {k: v for k, v in query.items()
            if not k.startswith("$") and not (isinstance(v, dict)
                                              and any(o.startswith("$") for o in v))}


def delivery(n: int, due: datetime) -> Delivery:
    return Delivery(id=f"sub-1:event-{n}", subscription_id="sub-1", event_id=f"event-{n}",
                    event_type="issue.reopened", subject=f"item-{n}", seq=n, event_time=due,
                    next_attempt_at=due)


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
    heads = seen.deliveries.heads_of("sub-1", {d.subject for d in due})

    assert [d.seq for d in due] == list(range(WAITING, WAITING + DUE))
    assert {s: h.seq for s, h in heads.items()} == {d.subject: d.seq for d in due}
    assert finds.filters, "the pass read no deliveries"
    # What each find selected by its equalities: what FerretDB decoded for it.
    deliveries = stores.deliveries.collection
    decoded = sum(deliveries.count_documents(equalities(f)) for f in finds.filters)
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
    assert sum(deliveries.count_documents(equalities(f)) for f in finds.filters) == SEQ_PAGE
