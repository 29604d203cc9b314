"""The stores that are swept stay flat over a long run: days of traffic on the real database,
each day's sweep run as the dispatcher and the web processes run theirs, the sizes printed.

    python -m bench.retention --days 120 --per-day 20

Time is simulated (each day is a ``now`` one day later), the writes and sweeps are the
services' own on the running database: every day stores ``--per-day`` events with a delivered
delivery, its attempt and claim, and as many idempotency records, then sweeps. With the default
retention (events 30 days, attempts 90, claims 1, idempotency records 7) the sizes grow until
each store's retention has passed, then stay level; items and their history are never swept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

from flask import Response

from services.notifications import delivering
from services.notifications.domain.deliveries import DELIVERED, Attempt, Delivery
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.retention import Retention
from services.notifications.repository import Stores, Sweeper, ensure_indexes
from shared import idempotency, mongo
from shared.config import Settings

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
STORES = ("events", "deliveries", "attempts", "delivery_claims")


def store_day(stores: Stores, records: idempotency.Records, day: int, at: datetime,
              per_day: int) -> None:
    events, deliveries = [], []
    for n in range(per_day):
        event = StoredEvent(id=f"e-{day}-{n}", type="issue.created", county="330602",
                            subject=f"item-{day}-{n}", time=at, seq=day * per_day + n,
                            partition="supervision.issues.v1:0", offset=day * per_day + n,
                            envelope={"id": f"e-{day}-{n}"})
        events.append(event)
        deliveries.append(Delivery(id=Delivery.id_for("sub", event.id), subscription_id="sub",
                                   event_id=event.id, event_type=event.type,
                                   subject=event.subject, seq=event.seq, event_time=at,
                                   next_attempt_at=at))
    stores.events.add_many(events, received=at)
    stores.deliveries.ensure_many(deliveries)
    claimed = stores.deliveries.claim_many(deliveries, at, at + timedelta(minutes=1), "w")
    for delivery in claimed:
        delivery.status, delivery.attempts = DELIVERED, 1
    stores.deliveries.finish_many(claimed, "w")
    stores.attempts.add_many([Attempt(
        delivery_id=d.id, subscription_id="sub", event_id=d.event_id, event_type=d.event_type,
        number=1, at=at, outcome="success", status=204, latency_ms=3.0, error=None,
        next_attempt_at=None) for d in claimed])
    for n in range(per_day):
        records.keep(f"key-{day}-{n}", "fingerprint", Response("{}", status=201), at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--per-day", type=int, default=20)
    args = parser.parse_args(argv)

    settings = dataclasses.replace(Settings.from_env(),
                                   database_prefix=f"bench{uuid.uuid4().hex[:8]}")
    retention = Retention.of(event_days=settings.notifications_event_retention_days,
                             attempt_days=settings.notifications_attempt_retention_days,
                             claim_days=settings.delivery_claim_retention_days,
                             retry_schedule=settings.webhook_retry_schedule)
    notifications = mongo.database(settings, "notifications")
    issues = mongo.database(settings, "issues")
    try:
        ensure_indexes(notifications)
        stores = Stores.on(notifications)
        records = idempotency.Records(
            issues, retention=timedelta(seconds=settings.idempotency_retention_seconds),
            sweep_every=timedelta(days=1))
        rows = []
        for day in range(args.days):
            now = START + timedelta(days=day)
            store_day(stores, records, day, now, args.per_day)
            delivering.sweep(Sweeper(notifications), retention, turn=f"day-{day}", now=now)
            records.sweep(now)
            sizes = {name: notifications[name].count_documents({}) for name in STORES}
            sizes["idempotency_records"] = issues[idempotency.RECORDS].count_documents({})
            rows.append({"day": day, **sizes})
            print(json.dumps(rows[-1]), flush=True)
        print("\n| " + " | ".join(rows[0]) + " |")
        print("|" + " ---: |" * len(rows[0]))
        for row in rows:
            if row["day"] % 10 == 9 or row["day"] == args.days - 1:
                print("| " + " | ".join(str(v) for v in row.values()) + " |")
    finally:
        client = mongo.client(settings.mongodb_uri)
        for name in client.list_database_names():
            if name.startswith(settings.database_prefix + "_"):
                client.drop_database(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
