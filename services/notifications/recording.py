"""What the consumer does with the events of a poll: store each event once, and what is due to
whom."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from services.notifications.domain.feed import StoredEvent
from services.notifications.handlers import delivery_for
from services.notifications.repository import Stores
from shared.consumer import DUPLICATE, PROCESSED
from shared.events import Event


def record_events(stores: Stores, batch: Sequence[tuple[Event, tuple[str, int, int]]], *,
                  schedule: Sequence[int], now: datetime) -> list[str]:
    """Keep each event in the store and a pending delivery for each subscription that wants it;
    answer PROCESSED or DUPLICATE for each, in order.

    A few writes for the whole batch, not a few per event: on FerretDB every write is a
    PostgreSQL commit, and a batch of inserts is one. Both writes are idempotent (an event by
    its id, a delivery by subscription and event), so a redelivered record, even one whose batch
    stopped half-way last time, completes what is missing.
    """
    first_seq = stores.events.reserve_seqs(len(batch))
    fresh = [StoredEvent(id=event.id, type=event.type, county=event.county,
                         subject=event.subject, time=event.time, seq=first_seq + n,
                         partition=f"{topic}:{partition}", offset=offset, envelope=event.raw)
             for n, (event, (topic, partition, offset)) in enumerate(batch)]
    added = stores.events.add_many(fresh, received=now)
    outcomes, stored = [], []
    for event, new in zip(fresh, added, strict=True):
        outcomes.append(PROCESSED if new else DUPLICATE)
        # Seen before: its first copy and place stand.
        stored.append(event if new else stores.events.get(event.id))
    first_attempt = now + timedelta(seconds=schedule[0])
    subscriptions = stores.subscriptions.active()
    stores.deliveries.ensure_many([delivery_for(subscription, event, first_attempt)
                                   for event in stored for subscription in subscriptions
                                   if subscription.wants(event.type, event.county)])
    return outcomes
