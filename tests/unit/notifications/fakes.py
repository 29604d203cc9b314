"""In-memory stores with the behaviour of services.notifications.repository, for unit tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from services.notifications.domain.deliveries import (
    IN_FLIGHT,
    PENDING,
    UNFINISHED,
    Answer,
    Attempt,
    Delivery,
)
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.subscriptions import ACTIVE, Subscription
from services.notifications.domain.url_safety import AllowList
from services.notifications.handlers import Destinations
from services.notifications.repository import StaleSubscription

PUBLIC_ADDRESS = "93.184.216.34"


class FakeSubscriptions:
    def __init__(self):
        self.rows: dict[str, Subscription] = {}

    def add(self, subscription: Subscription) -> bool:
        if subscription.id in self.rows:
            return False
        self.rows[subscription.id] = copy.deepcopy(subscription)
        return True

    def get(self, id_: str) -> Subscription | None:
        return copy.deepcopy(self.rows.get(id_))

    def save(self, subscription: Subscription) -> None:
        if self.rows[subscription.id].version != subscription.version:
            raise StaleSubscription(subscription.id)
        subscription.version += 1
        self.rows[subscription.id] = copy.deepcopy(subscription)

    def active(self) -> list[Subscription]:
        return [copy.deepcopy(s) for s in self.rows.values() if s.status == ACTIVE]

    def page(self, after, limit, *, owner=None, owner_city=None):
        rows = sorted((s for s in self.rows.values() if s.status != "deleted"
                       and (owner is None or s.owner == owner)
                       and (owner_city is None or s.owner_city == owner_city)
                       and (after is None or s.id > after)), key=lambda s: s.id)
        return rows[:limit]


class FakeEvents:
    def __init__(self):
        self.rows: dict[str, StoredEvent] = {}
        self.seq = 0

    def reserve_seqs(self, count: int) -> int:
        self.seq += count
        return self.seq - count + 1

    def add_many(self, events: list[StoredEvent], received: datetime) -> list[bool]:
        added = []
        for event in events:
            added.append(event.id not in self.rows)
            self.rows.setdefault(event.id, event)
        return added

    def get(self, id_: str) -> StoredEvent | None:
        return self.rows.get(id_)

    def partitions(self) -> list[str]:
        return sorted({e.partition for e in self.rows.values()})

    def after(self, partition, offset, *, counties, withheld, types, limit):
        rows = [e for e in self.rows.values() if e.partition == partition and e.offset > offset
                and (counties is None or e.county in counties) and e.type not in withheld
                and (types is None or e.type in types)]
        return sorted(rows, key=lambda e: e.offset)[:limit]

    def since(self, time: datetime, limit: int):
        rows = sorted((e for e in self.rows.values() if e.time >= time),
                      key=lambda e: (e.time, e.seq))
        return rows[:limit]


class FakeDeliveries:
    def __init__(self):
        self.rows: dict[str, tuple[Delivery, dict]] = {}  # delivery, lease {until, holder}

    def ensure(self, delivery: Delivery) -> bool:
        if delivery.id in self.rows:
            return False
        self.rows[delivery.id] = (copy.deepcopy(delivery), {})
        return True

    def ensure_many(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self.ensure(delivery)

    def get(self, id_):
        row = self.rows.get(id_)
        return copy.deepcopy(row[0]) if row else None

    def all(self) -> list[Delivery]:
        return [copy.deepcopy(d) for d, _ in self.rows.values()]

    def _due(self, delivery: Delivery, lease: dict, now: datetime) -> bool:
        return ((delivery.status == PENDING and delivery.next_attempt_at <= now)
                or (delivery.status == IN_FLIGHT and lease.get("until") < now))

    def expired_leases(self, now):
        return [copy.deepcopy(d) for d, lease in self.rows.values()
                if d.status == IN_FLIGHT and lease.get("until") < now]

    def marked(self, now, *, since):
        # Every subscription with a delivery pending: more than the buckets would mark, never less.
        return {d.subscription_id for d, _ in self.rows.values() if d.status == PENDING}, 0

    def due_of(self, subscription_id, now, *, limit):
        rows = [d for d, _ in self.rows.values() if d.subscription_id == subscription_id
                and d.status == PENDING and d.next_attempt_at <= now]
        return [copy.deepcopy(d) for d in
                sorted(rows, key=lambda d: (d.next_attempt_at, d.seq))[:limit]]

    def due_of_each(self, limits, now):
        return {sub: self.due_of(sub, now, limit=limit) for sub, limit in limits.items()}

    def heads_of(self, subjects):
        heads = {sub: {} for sub in subjects}
        for d, _ in self.rows.values():
            of = heads.get(d.subscription_id)
            if (of is not None and d.subject in subjects[d.subscription_id]
                    and d.status in UNFINISHED
                    and (d.subject not in of or d.seq < of[d.subject].seq)):
                of[d.subject] = copy.deepcopy(d)
        return heads

    def defer_many(self, waits):
        for delivery, until in waits:
            stored, _ = self.rows[delivery.id]
            if stored.status == PENDING:
                stored.next_attempt_at = until

    def claim_many(self, deliveries, now, lease_until, holder):
        taken = []
        for delivery in deliveries:
            stored, lease = self.rows[delivery.id]
            if self._due(stored, lease, now):
                stored.status = IN_FLIGHT
                lease.update(until=lease_until, holder=holder)
                taken.append(copy.deepcopy(stored))
        return taken

    def finish_many(self, deliveries, holder):
        for delivery in deliveries:
            stored, lease = self.rows[delivery.id]
            if stored.status == IN_FLIGHT and lease.get("holder") == holder:
                self.rows[delivery.id] = (copy.deepcopy(delivery), {})

    def restart(self, delivery, was):
        if self.rows[delivery.id][0].status != was:
            return False
        self.rows[delivery.id] = (copy.deepcopy(delivery), {})
        return True


class FakeAttempts:
    def __init__(self):
        self.rows: list[Attempt] = []

    def add_many(self, attempts: list[Attempt]) -> None:
        for attempt in attempts:
            if all(a.id != attempt.id for a in self.rows):
                self.rows.append(attempt)

    def page(self, subscription_id, before, limit):
        rows = sorted((a for a in self.rows if a.subscription_id == subscription_id),
                      key=lambda a: (a.at, a.id), reverse=True)
        if before is not None:
            rows = [a for a in rows if (a.at, a.id) < before]
        return rows[:limit]


@dataclass
class FakeStores:
    subscriptions: FakeSubscriptions = field(default_factory=FakeSubscriptions)
    events: FakeEvents = field(default_factory=FakeEvents)
    deliveries: FakeDeliveries = field(default_factory=FakeDeliveries)
    attempts: FakeAttempts = field(default_factory=FakeAttempts)


@dataclass
class FakeEndpoint:
    """A county endpoint that answers from a script of statuses, then 200; records requests."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, dict, bytes]] = field(default_factory=list)
    addresses: list[list[str]] = field(default_factory=list)  # where each request went

    def __call__(self, url: str, headers: dict, body: bytes, addresses) -> Answer:
        self.received.append((url, headers, body))
        self.addresses.append(list(addresses))
        status = self.statuses.pop(0) if self.statuses else 200
        return Answer(status, 1.0, None if 200 <= status < 300 else f"HTTP {status}")


def public_destinations(*hosts_to_addresses: tuple[str, list[str]]) -> Destinations:
    """Destinations whose resolver answers from a table (a public address by default)."""
    table = dict(hosts_to_addresses)
    return Destinations(lambda host: table.get(host, [PUBLIC_ADDRESS]), AllowList())
