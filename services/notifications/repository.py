"""MongoDB adapters of the notifications service: subscriptions, the event store, the delivery
queue and the attempt log.

What must never be lost is written as inserts under unique ids (shared/changelog.py): each change
of a subscription is a change document of its own at its next version, and each reservation of
sequence numbers is a change of the sequence counter. FerretDB 1.24 loses concurrent in-place
updates of one document (a version-guarded replace let several API workers "win" one version,
and ``$inc`` handed one sequence number to several consumers); its unique index is real, so of
writers racing for one version exactly one insert succeeds, and the others read again. On
MongoDB the same inserts are simply safe, and keep every change of a subscription for audit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.notifications.domain.deliveries import (
    CANCELLED,
    DELIVERED,
    FAILED,
    IN_FLIGHT,
    PENDING,
    UNFINISHED,
    Attempt,
    Delivery,
)
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.retention import (
    ATTEMPTS,
    CLAIMS,
    DELIVERIES,
    EVENTS,
    day_key,
    days_between,
)
from services.notifications.domain.subscriptions import ACTIVE, Secret, Subscription
from shared import clock, mongo
from shared.changelog import ChangeLog

SEQUENCE = "event-seqs"  # the id of the sequence counter in its change log
FINISHED = (DELIVERED, FAILED, CANCELLED)
# Pending deliveries are kept in buckets of their due time, this many seconds wide, and within a
# bucket in pages of this many sequence numbers: what is due is read a bucket's page at a time,
# each an equality, so a read never touches what is due later, nor more than a page past what it
# needs.
DUE_BUCKET_SECONDS = 10
SEQ_PAGE = 64
# A bucket's marker is dropped once the bucket is this many buckets past and read empty: longer
# than any writer's clock may lag or a write may take between marking a bucket and filling it.
SETTLED_BUCKETS = 2


class StaleSubscription(Exception):
    """Somebody changed the subscription since it was read: read it again and redo the change."""


def ensure_indexes(db: Database) -> None:
    db.subscriptions.create_index("owner")
    db.subscription_changes.create_index([("subscription_id", ASCENDING), ("version", ASCENDING)])
    db.events.create_index([("partition", ASCENDING), ("offset", ASCENDING)], unique=True)
    db.events.create_index("time")
    db.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
    db.deliveries.create_index([("subscription_id", ASCENDING), ("status", ASCENDING),
                                ("next_attempt_at", ASCENDING), ("seq", ASCENDING)])
    db.deliveries.create_index("claim")
    db.deliveries.create_index(
        [("subscription_id", ASCENDING), ("subject", ASCENDING), ("seq", ASCENDING)])
    db.attempts.create_index(
        [("subscription_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)])
    # The day each record was stored on: what the retention sweep deletes by.
    for collection in (db.events, db.attempts, db.delivery_claims):
        collection.create_index("day")
    db.deliveries.create_index([("day", ASCENDING), ("status", ASCENDING)])
    db.deliveries.create_index([("subscription_id", ASCENDING), ("status", ASCENDING),
                                ("due_bucket", ASCENDING), ("seq_page", ASCENDING)])
    db.due_buckets.create_index("subscription_id")
    db.due_buckets.create_index("bucket")
    _bucket_unbucketed(db)


def _bucket_unbucketed(db: Database) -> None:
    # Pending deliveries stored before they carried their due bucket: due now, in this bucket.
    now = clock.now()
    for doc in db.deliveries.find({"status": PENDING, "seq_page": None},
                                  {"subscription_id": 1, "seq": 1}):
        [marked] = _mark_due(db.due_buckets, [(doc["subscription_id"], now, doc["seq"])], now)
        db.deliveries.update_one(
            {"_id": doc["_id"], "status": PENDING},
            {"$set": {"due_bucket": marked, "seq_page": doc["seq"] // SEQ_PAGE}})


def bucket_of(moment: datetime) -> int:
    return int(moment.timestamp() // DUE_BUCKET_SECONDS)


def _mark_due(markers, due: list[tuple[str, datetime, int]], now: datetime) -> list[int]:
    """Record, for each (subscription, due time, seq), that the subscription has a pending
    delivery in that bucket and page (one insert for all); answer the buckets. A time already
    past goes in the bucket of ``now``: a marker is dropped only once its bucket is past (see
    Deliveries.due_of), so no delivery is ever written into a bucket whose marker may be gone."""
    buckets = [max(bucket_of(at), bucket_of(now)) for _, at, _ in due]
    docs = {}
    for (sub, _, seq), bucket in zip(due, buckets, strict=True):
        id_ = marker_id(sub, bucket, seq // SEQ_PAGE)
        docs[id_] = {"_id": id_, "subscription_id": sub, "bucket": bucket,
                     "page": seq // SEQ_PAGE}
    mongo.insert_new(markers, list(docs.values()))
    return buckets


def marker_id(subscription_id: str, bucket: int, page: int) -> str:
    return f"{subscription_id}|{bucket}|{page}"


def _doc(obj, **extra) -> dict:
    doc = dataclasses.asdict(obj)
    doc["_id"] = doc.pop("id", None) or obj.id
    return {**doc, **extra}


class Subscriptions:
    """Subscriptions under the change-log rule: ``subscription_changes`` gets one insert per
    change (``<id>:<version>``, the new state); ``subscriptions`` holds the current states for
    queries, and a read by id heals it when it lags behind a change."""

    def __init__(self, db: Database):
        self.collection = db.subscriptions
        self.log = ChangeLog(db, "subscriptions", "subscription_changes", key="subscription_id")

    def add(self, subscription: Subscription) -> bool:
        """Store a new subscription; False if one with its id exists already."""
        # The read finds one stored before there was a change log; the insert decides a race.
        return self.log.get(subscription.id) is None and self.log.record(_doc(subscription), [])

    def get(self, id_: str) -> Subscription | None:
        doc = self.log.get(id_)
        return _subscription(doc) if doc else None

    def save(self, subscription: Subscription) -> None:
        """Record the change at the version after the one read; StaleSubscription when another
        writer recorded that version first."""
        if not self.log.record(_doc(subscription, version=subscription.version + 1), []):
            raise StaleSubscription(subscription.id)
        subscription.version += 1

    def active(self) -> list[Subscription]:
        """Every active subscription: one read for a whole batch of events to match."""
        return [_subscription(d) for d in self.collection.find({"status": ACTIVE})]

    def page(self, after: str | None, limit: int, *, owner: str | None = None,
             owner_city: str | None = None) -> list[Subscription]:
        """In id order: all, or those of one owner, or of the owners of one city."""
        query: dict = {"status": {"$ne": "deleted"}}
        if owner is not None:
            query["owner"] = owner
        if owner_city is not None:
            query["owner_city"] = owner_city
        if after is not None:
            query["_id"] = {"$gt": after}
        docs = self.collection.find(query).sort("_id", ASCENDING).limit(limit)
        return [_subscription(d) for d in docs]


def _subscription(doc: dict) -> Subscription:
    doc = dict(doc)
    return Subscription(
        id=doc.pop("_id"), event_types=tuple(doc.pop("event_types")),
        counties=tuple(doc.pop("counties")),
        secrets=[Secret(**s) for s in doc.pop("secrets")], **doc)


class Events:
    """The service's own copy of every event, kept in each partition's log order."""

    def __init__(self, db: Database):
        self.collection = db.events
        self.partition_names = db.partitions
        self.sequence = ChangeLog(db, "sequences", "sequence_changes", key="sequence")
        self.legacy_counters = db.counters
        self._known_partitions: set[str] = set()

    def reserve_seqs(self, count: int) -> int:
        """The first of ``count`` consecutive sequence numbers, no number ever handed out twice.

        A reservation is a change of the counter, recorded as an insert at its next version:
        of consumers racing from one version one insert wins; the others read again and try
        the version after. A read walks from the kept current state to the newest change."""
        while True:
            state = self.sequence.get(SEQUENCE) or {"_id": SEQUENCE, "version": 0,
                                                    "last": self._legacy_last()}
            last = state["last"] + count
            if self.sequence.record({"_id": SEQUENCE, "version": state["version"] + 1,
                                     "last": last}, []):
                return last - count + 1

    def _legacy_last(self) -> int:
        # The counter kept by ``$inc`` before sequence numbers had a change log.
        doc = self.legacy_counters.find_one({"_id": "events"})
        return doc["value"] if doc else 0

    def add_many(self, events: list[StoredEvent], received: datetime) -> list[bool]:
        """Store each event once, in one insert; for each, False if its id was stored already."""
        for event in events:
            if event.partition not in self._known_partitions:
                # Another consumer may name the partition first: its first offset stands.
                with contextlib.suppress(DuplicateKeyError):
                    self.partition_names.insert_one(
                        {"_id": event.partition, "first_offset": event.offset})
                self._known_partitions.add(event.partition)
        day = day_key(received)
        refused = mongo.insert_new(self.collection, [_doc(event, day=day) for event in events])
        return [n not in refused for n in range(len(events))]

    def get(self, id_: str) -> StoredEvent | None:
        doc = self.collection.find_one({"_id": id_})
        return _event(doc) if doc else None

    def partitions(self) -> list[str]:
        # A find, not `distinct`: FerretDB 1.24 refuses a `distinct` carrying maxTimeMS, which a
        # request's time limit adds.
        return sorted(doc["_id"] for doc in self.partition_names.find({}, {"_id": 1}))

    def after(self, partition: str, offset: int, *, counties: Collection[str] | None,
              withheld: Collection[str], types: Iterable[str] | None,
              limit: int) -> list[StoredEvent]:
        """Events of ``partition`` past ``offset``, in offset order: of ``counties`` (None:
        any), never of the ``withheld`` types."""
        query: dict = {"partition": partition, "offset": {"$gt": offset}}
        if counties is not None:
            # One county is an equality, which FerretDB hands to its storage.
            query["county"] = next(iter(counties)) if len(counties) == 1 else {
                "$in": sorted(counties)}
        if withheld:
            query["type"] = {"$nin": sorted(withheld)}
        if types is not None:
            query.setdefault("type", {})["$in"] = sorted(types)
        docs = self.collection.find(query).sort("offset", ASCENDING).limit(limit)
        return [_event(d) for d in docs]

    def since(self, time: datetime, limit: int) -> list[StoredEvent]:
        docs = self.collection.find({"time": {"$gte": time}}).sort(
            [("time", ASCENDING), ("seq", ASCENDING)]).limit(limit)
        return [_event(d) for d in docs]


def _event(doc: dict) -> StoredEvent:
    doc = dict(doc)
    doc.pop("day", None)
    return StoredEvent(id=doc.pop("_id"), **doc)


class Deliveries:
    """The durable delivery queue: what is due is claimed under a lease, so a dead worker's
    claims return to the queue when their lease runs out.

    Each pending delivery carries the bucket of its due time (``due_bucket``) and the page of
    its sequence number (``seq_page``), and ``due_buckets`` holds a marker for each
    subscription, bucket and page written into (inserted before the delivery). A read of what is
    due takes the subscription's markers up to now and those pages by equality, earliest first,
    until it has enough: FerretDB 1.24, which hands PostgreSQL equalities only, decodes a page
    past what is due at most, and nothing due later (a backlog of retries waiting for their time
    costs no read); MongoDB serves each page from an index."""

    def __init__(self, db: Database):
        self.collection = db.deliveries
        self.claims = db.delivery_claims
        self.markers = db.due_buckets

    def _mark(self, deliveries: list[Delivery]) -> list[int]:
        return _mark_due(self.markers,
                         [(d.subscription_id, d.next_attempt_at, d.seq) for d in deliveries],
                         clock.now())

    def ensure(self, delivery: Delivery) -> bool:
        """Record the delivery unless it exists; True if it was new."""
        [bucket] = self._mark([delivery])
        result = self.collection.update_one(
            {"_id": delivery.id}, {"$setOnInsert": _delivery_doc(delivery, bucket)}, upsert=True)
        return result.upserted_id is not None

    def ensure_many(self, deliveries: list[Delivery]) -> None:
        """Record each delivery unless it exists, in one insert (and one for the markers)."""
        buckets = self._mark(deliveries)
        mongo.insert_new(self.collection, [_delivery_doc(delivery, bucket) for delivery, bucket
                                           in zip(deliveries, buckets, strict=True)])

    def get(self, id_: str) -> Delivery | None:
        doc = self.collection.find_one({"_id": id_})
        return _delivery(doc) if doc else None

    def expired_leases(self, now: datetime) -> list[Delivery]:
        """Deliveries in flight whose worker's lease ran out: due again. Few (at most the
        attempts in flight), so one query for every subscription."""
        return [_delivery(d) for d in self.collection.find(
            {"status": IN_FLIGHT, "lease_until": {"$lt": now}})]

    def marked(self, now: datetime, *, since: int | None) -> tuple[set[str], int]:
        """The subscriptions with a marker of a bucket up to ``now``, and the bucket of ``now``
        (to pass as ``since`` next time). With ``since`` None, from every marker; else only from
        the buckets a writer may have marked since the bucket ``since`` was current (a marker
        goes in the bucket of its writer's own time at the earliest, see ``_mark_due``), each
        read by equality, several at once: what a marker of an earlier bucket was read for
        already."""
        current = bucket_of(now)
        if since is None:
            found = self.markers.find({"bucket": {"$lte": current}}, {"subscription_id": 1})
            return {m["subscription_id"] for m in found}, current
        found = mongo.concurrently(
            lambda bucket: list(self.markers.find({"bucket": bucket}, {"subscription_id": 1})),
            range(min(since, current) - SETTLED_BUCKETS, current + 1))
        return {m["subscription_id"] for markers in found for m in markers}, current

    def due_of(self, subscription_id: str, now: datetime, *, limit: int) -> list[Delivery]:
        """The subscription's pending deliveries due by ``now``, earliest first: read a bucket's
        page at a time from the earliest, until ``limit`` are found (so at most ``limit`` and
        one page more, besides the few of the current bucket not due yet)."""
        current = bucket_of(now)
        pages = sorted((m["bucket"], m["page"]) for m in self.markers.find(
            {"subscription_id": subscription_id}, {"bucket": 1, "page": 1})
            if m["bucket"] <= current)
        due: list[Delivery] = []
        for bucket, page in pages:
            if len(due) >= limit:
                break
            # Four equalities at the top level: FerretDB hands them all to PostgreSQL.
            docs = [_delivery(d) for d in self.collection.find(
                {"status": PENDING, "subscription_id": subscription_id, "due_bucket": bucket,
                 "seq_page": page})]
            if not docs and bucket < current - SETTLED_BUCKETS:
                self.markers.delete_one({"_id": marker_id(subscription_id, bucket, page)})
            due += [d for d in docs if d.next_attempt_at <= now]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.seq))[:limit]

    def due_of_each(self, limits: dict[str, int], now: datetime) -> dict[str, list[Delivery]]:
        """``due_of`` for each subscription, up to its limit; several subscriptions at once."""
        subscriptions = sorted(limits)
        return dict(zip(subscriptions, mongo.concurrently(
            lambda sub: self.due_of(sub, now, limit=limits[sub]), subscriptions), strict=True))

    def heads_of(self, subjects: dict[str, set[str]]) -> dict[str, dict[str, Delivery]]:
        """For each subscription and each of its ``subjects``: the subscription's earliest
        unfinished delivery of it."""
        pairs = [(sub, subject) for sub in sorted(subjects) for subject in sorted(subjects[sub])]
        # One query a subject, all equalities (an `$in` would be filtered after FerretDB decoded
        # every delivery of the subscription): a subject's own deliveries only, several at once.
        found = mongo.concurrently(lambda pair: list(self.collection.find(
            {"subscription_id": pair[0], "subject": pair[1]})), pairs)
        heads: dict[str, dict[str, Delivery]] = {sub: {} for sub in subjects}
        for (sub, subject), docs in zip(pairs, found, strict=True):
            unfinished = [d for d in map(_delivery, docs) if d.status in UNFINISHED]
            if unfinished:
                heads[sub][subject] = min(unfinished, key=lambda d: d.seq)
        return heads

    def defer_many(self, waits: list[tuple[Delivery, datetime]]) -> None:
        """Put off each pending delivery until its time, in two round trips."""
        if waits:
            buckets = _mark_due(self.markers, [(d.subscription_id, until, d.seq)
                                               for d, until in waits], clock.now())
            self.collection.bulk_write(
                [UpdateOne({"_id": d.id, "status": PENDING},
                           {"$set": {"next_attempt_at": until, "due_bucket": bucket}})
                 for (d, until), bucket in zip(waits, buckets, strict=True)], ordered=False)

    def claim_many(self, deliveries: list[Delivery], now: datetime, lease_until: datetime,
                   holder: str) -> list[Delivery]:
        """Take those of ``deliveries`` nobody else took since they were read as due; three
        round trips for all of them.

        Dispatchers that read the same due delivery insert a claim under the same id, and one
        insert wins: FerretDB 1.24 lets two racing compare-and-set updates both "succeed"
        (shared/changelog.py), so the update alone would send the webhook twice. The id names
        the state the delivery was read in and the lease window, so a claim whose dispatcher
        died before taking the delivery holds it up for one lease at most."""
        if not deliveries:
            return []
        window = int(now.timestamp() // (lease_until - now).total_seconds())
        refused = mongo.insert_new(self.claims, [
            {"_id": claim_id(d, window), "holder": holder, "at": now, "day": day_key(now)}
            for d in deliveries])
        won = [d for n, d in enumerate(deliveries) if n not in refused]
        if not won:
            return []
        token = uuid.uuid4().hex
        self.collection.bulk_write([UpdateOne(
            {"_id": d.id,
             "$or": [{"status": PENDING, "next_attempt_at": {"$lte": now}},
                     {"status": IN_FLIGHT, "lease_until": {"$lt": now}}]},
            {"$set": {"status": IN_FLIGHT, "lease_until": lease_until, "holder": holder,
                      "claim": token}}) for d in won], ordered=False)
        # Which updates matched: the deliveries now held under this claim.
        taken = {d["_id"]: _delivery(d) for d in self.collection.find(
            {"status": IN_FLIGHT, "claim": token})}
        return [taken[d.id] for d in won if d.id in taken]

    def finish_many(self, deliveries: list[Delivery], holder: str) -> None:
        """Write each attempt's result, unless the lease was lost to another worker meanwhile;
        one round trip."""
        if not deliveries:
            return
        updates = []
        retries = [d for d in deliveries if d.status == PENDING]
        buckets = dict(zip((d.id for d in retries), self._mark(retries), strict=True))
        for delivery in deliveries:
            fields = _doc(delivery)
            fields.pop("_id")
            if delivery.id in buckets:
                fields["due_bucket"] = buckets[delivery.id]
            updates.append(UpdateOne(
                {"_id": delivery.id, "status": IN_FLIGHT, "holder": holder},
                {"$set": {**fields, "lease_until": None, "holder": None, "claim": None}}))
        self.collection.bulk_write(updates, ordered=False)

    def restart(self, delivery: Delivery, was: str) -> bool:
        """Write a replayed delivery, if it is still in the state it was read in."""
        fields = _doc(delivery)
        fields.pop("_id")
        if delivery.status == PENDING:
            [fields["due_bucket"]] = self._mark([delivery])
        return bool(self.collection.update_one(
            {"_id": delivery.id, "status": was}, {"$set": fields}).matched_count)

    def counts(self, now: datetime) -> dict[str, int]:
        """Deliveries by state, for the backlog metrics: due, waiting (retry later), failed."""
        return {
            "due": self.collection.count_documents(
                {"status": PENDING, "next_attempt_at": {"$lte": now}}),
            "waiting": self.collection.count_documents(
                {"status": PENDING, "next_attempt_at": {"$gt": now}}),
            "in_flight": self.collection.count_documents({"status": IN_FLIGHT}),
            "failed": self.collection.count_documents({"status": "failed"}),
        }


_DELIVERY_FIELDS = {f.name for f in dataclasses.fields(Delivery)}


def _delivery_doc(delivery: Delivery, bucket: int) -> dict:
    # Made when it is first due (at once, or at a replay): the day it was stored on.
    return _doc(delivery, day=day_key(delivery.next_attempt_at), due_bucket=bucket,
                seq_page=delivery.seq // SEQ_PAGE)


def claim_id(delivery: Delivery, window: int) -> str:
    return (f"{delivery.id}|{delivery.status}|{delivery.attempts}|"
            f"{delivery.next_attempt_at.isoformat()}|{window}")


def _delivery(doc: dict) -> Delivery:
    return Delivery(id=doc["_id"], **{k: v for k, v in doc.items() if k in _DELIVERY_FIELDS})


class Attempts:
    def __init__(self, db: Database):
        self.collection = db.attempts

    def add_many(self, attempts: list[Attempt]) -> None:
        """Log the attempts, in one insert. One is written already if a worker lost its lease
        after the attempt and another redid it."""
        mongo.insert_new(self.collection,
                         [_doc(attempt, day=day_key(attempt.at)) for attempt in attempts])

    def page(self, subscription_id: str, before: tuple[datetime, str] | None,
             limit: int) -> list[Attempt]:
        """Newest first; ``before`` is the (time, id) of the last attempt of the previous page."""
        query: dict = {"subscription_id": subscription_id}
        if before is not None:
            at, id_ = before
            query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": id_}}]
        docs = self.collection.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)])
        return [_attempt(d) for d in docs.limit(limit)]


def _attempt(doc: dict) -> Attempt:
    doc = dict(doc)
    doc.pop("_id")
    doc.pop("day", None)
    return Attempt(**doc)


class Sweeper:
    """Deletes what is past its retention (domain/retention.py), a day at a time.

    How far each store was swept is kept in a change log of its own (``retention_changes``,
    insert-only), and one dispatcher sweeps at a time: the one whose insert of the sweep's turn
    (``retention_turns``, an id per interval) succeeded. Deletes are idempotent, so a sweep cut
    short is simply done again at a later turn."""

    # store -> the field its records are timed by, and the equalities its deletes add (finished
    # deliveries only: one still on its way is never dropped).
    STORES = {EVENTS: ("time", [{}]), ATTEMPTS: ("at", [{}]), CLAIMS: ("at", [{}]),
              DELIVERIES: ("next_attempt_at", [{"status": s} for s in FINISHED])}

    def __init__(self, db: Database):
        self.db = db
        self.progress = ChangeLog(db, "retention", "retention_changes", key="store")
        self.turns = db.retention_turns
        self.sequence = ChangeLog(db, "sequences", "sequence_changes", key="sequence")

    def take_turn(self, turn: str, now: datetime) -> bool:
        """True for the one dispatcher that takes this turn to sweep."""
        try:
            self.turns.insert_one({"_id": turn, "at": now, "day": day_key(now)})
        except DuplicateKeyError:
            return False
        return True

    def sweep(self, store: str, first_kept: date) -> int:
        """Delete the store's records of the days before ``first_kept``; how many went."""
        collection = self.db[store]
        field, equalities = self.STORES[store]
        state = self.progress.get(store)
        deleted = 0
        if state is None:
            # The first sweep: by time, once, which also takes records stored before they
            # carried their day.
            start = datetime.combine(first_kept, time.min, tzinfo=UTC)
            for equality in equalities:
                deleted += collection.delete_many({field: {"$lt": start}, **equality}
                                                  ).deleted_count
        else:
            swept_through = date.fromisoformat(state["swept_through"])
            for day in days_between(swept_through, first_kept):
                for equality in equalities:
                    deleted += collection.delete_many({"day": day_key(day), **equality}
                                                      ).deleted_count
        through = day_key(first_kept - timedelta(days=1))
        if state is None or state["swept_through"] < through:
            version = state["version"] + 1 if state else 1
            self.progress.record({"_id": store, "version": version, "swept_through": through},
                                 [])
        return deleted

    def prune_logs(self, now: datetime) -> None:
        """Drop what no read needs any more: a counter's changes before its current state (a
        read walks forward from there), and past turns."""
        for log, aggregate in ((self.sequence, SEQUENCE), *((self.progress, s)
                                                             for s in self.STORES)):
            current = log.current.find_one({"_id": aggregate}, {"version": 1})
            if current:
                log.changes.delete_many({log.key: aggregate,
                                         "version": {"$lt": current["version"]}})
        for day in days_between(now.date() - timedelta(days=8), now.date() - timedelta(days=1)):
            self.turns.delete_many({"day": day_key(day)})


@dataclass(frozen=True)
class Stores:
    """Everything the handlers read and write, in one place (the fakes mirror it in tests)."""

    subscriptions: Subscriptions
    events: Events
    deliveries: Deliveries
    attempts: Attempts

    @classmethod
    def on(cls, db: Database) -> Stores:
        return cls(Subscriptions(db), Events(db), Deliveries(db), Attempts(db))
