"""The transactional outbox, inside the document that records a change, and the relay that
publishes it.

A handler writes the state change and the events it causes in one single-document insert
(FerretDB has no multi-document transactions, MongoDB only on a replica set): the events go into
the ``outbox`` array of the change's document (shared.changelog). The relay publishes them with
acks=all, and only once Kafka confirmed them takes them out; it is the only writer that updates
a change document, and nothing appends to an outbox after its insert, so the relay empties the
outboxes of a whole batch at once, with no read of them between. A crash between the two
publishes an event twice at worst; consumers absorb that by event id. One relay instance per
service holds a lease and publishes, so per-key order holds even with several instances running.

Each service runs its relay as ``python -m services.<service>.relay`` (``run_relay``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from kafka import KafkaProducer
from kafka.errors import KafkaError
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared import mongo, process
from shared.config import Settings
from shared.events import CATALOG, encode, record_key
from shared.kafka import producer as make_producer
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST

OUTBOX = "outbox"
PENDING = "outbox_pending"
REGISTRY = "_outboxes"  # names the collections whose documents carry an outbox
LEASES = "_leases"
CLOUDEVENTS_CONTENT_TYPE = ("content-type", b"application/cloudevents+json")
log = logging.getLogger(__name__)


def new_document(doc: dict, events: list[dict]) -> dict:
    """A document to insert together with the events its creation causes."""
    return {**doc, OUTBOX: list(events), PENDING: bool(events)}


def register(collection: Collection) -> None:
    """Declare that ``collection`` carries outboxes, so the service's relay scans it."""
    collection.create_index(PENDING)
    # Another worker may register it at the same moment: concurrent upserts collide, harmlessly.
    with contextlib.suppress(DuplicateKeyError):
        collection.database[REGISTRY].update_one(
            {"_id": collection.name}, {"$set": {"since": time.time()}}, upsert=True)


def lease(db: Database, name: str, holder: str, seconds: float,
          now: float | None = None) -> bool:
    """Take or renew the lease ``name``; True while ``holder`` holds it. Call it at least every
    ``seconds / 3`` to keep it.

    Time is cut into terms of ``seconds``, and each term is one document ``<name>:<term>``
    whose insert decides its holder: FerretDB loses concurrent updates of one document (two of
    eight racing compare-and-set updates both "won"), but never lets two inserts of one ``_id``
    through. From a third into its term the holder inserts the next term's document, before
    anyone else may, so the lease stays where it is (a caller slowed by its own work still asks
    within those two thirds); should the holder stop, the first caller of
    the next term takes it. A term's holder is never two processes (clocks apart by no more
    than a term's length)."""
    now = time.time() if now is None else now
    term = int(now // seconds)
    terms = db[LEASES]
    current = terms.find_one({"_id": f"{name}:{term}"})
    if current is None:
        current = _take(terms, name, term, holder) or terms.find_one({"_id": f"{name}:{term}"})
    if current is None or current["holder"] != holder:
        return False
    if now - term * seconds >= seconds / 3 and _take(terms, name, term + 1, holder):
        terms.delete_many({"name": name, "term": {"$lt": term - 1}})
    return True


def _take(terms: Collection, name: str, term: int, holder: str) -> dict | None:
    """Insert the term's document: the holder's if nobody was first."""
    doc = {"_id": f"{name}:{term}", "name": name, "term": term, "holder": holder}
    try:
        terms.insert_one(doc)
    except DuplicateKeyError:
        return None
    return doc


class Relay:
    def __init__(self, db: Database, producer: KafkaProducer, service: str, settings: Settings, *,
                 batch_size: int = 500, lease_seconds: float = 10.0, idle_sleep: float = 0.02):
        self.db = db
        self.producer = producer
        self.service = service
        self.topic = settings.topic
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.idle_sleep = idle_sleep
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._lease_until = 0.0

    def _leader(self) -> bool:
        now = time.monotonic()
        if now < self._lease_until:
            return True
        if lease(self.db, f"outbox-relay:{self.service}", self.holder, self.lease_seconds):
            # Renew well before expiry so that a slow batch cannot outlive the lease.
            self._lease_until = now + self.lease_seconds / 3
            return True
        return False

    def publish_pending(self) -> int:
        """Publish one batch of pending events; return how many were confirmed."""
        published, backlog, oldest = 0, 0, None
        for name in self.db[REGISTRY].distinct("_id"):
            collection = self.db[name]
            docs = list(collection.find({PENDING: True}, {OUTBOX: 1}).limit(self.batch_size))
            for doc in docs:
                events = doc.get(OUTBOX) or []
                backlog += len(events)
                if events:
                    first = datetime.fromisoformat(events[0]["time"]).timestamp()
                    oldest = first if oldest is None else min(oldest, first)
            published += self._publish_documents(collection, docs)
        OUTBOX_BACKLOG.labels(self.service).set(max(backlog - published, 0))
        OUTBOX_OLDEST.labels(self.service).set(
            max(time.time() - oldest, 0) if oldest and backlog > published else 0)
        return published

    def _publish_documents(self, collection: Collection, docs: list[dict]) -> int:
        """Send the events of ``docs`` in order, wait for Kafka once for all of them, and empty
        the outboxes Kafka confirmed: one update by ``_id`` each, a few at once. Not one
        ``update_many`` with ``$in``: FerretDB hands PostgreSQL no ``$in``, so that read every
        pending document of the collection (2.6 s for 200 of 6,000 pending, against 0.32 s for
        200 updates by ``_id`` eight at a time), and a backlog slowed its own draining."""
        sent = []
        for doc in docs:
            events = doc.get(OUTBOX) or []
            sent.append((doc["_id"], events, [
                self.producer.send(self.topic(CATALOG[e["type"]].topic), key=record_key(e),
                                   value=encode(e), headers=[CLOUDEVENTS_CONTENT_TYPE])
                for e in events]))
        self.producer.flush(timeout=30)
        confirmed: list = []
        try:
            for doc_id, events, futures in sent:
                for event, future in zip(events, futures, strict=True):
                    # Raises if Kafka did not confirm: this document and the ones after it stay
                    # pending, and the next pass sends them again.
                    future.get(timeout=0)
                    EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()
                confirmed.append(doc_id)
        finally:
            mongo.concurrently(lambda doc_id: collection.update_one(
                {"_id": doc_id, PENDING: True}, {"$set": {OUTBOX: [], PENDING: False}}), confirmed)
        return sum(len(events) for _, events, _ in sent)

    def run(self, stop: threading.Event) -> None:
        log.info("outbox relay started", extra={"holder": self.holder})
        backoff = 0.5
        while not stop.is_set():
            try:
                if not self._leader():
                    stop.wait(self.lease_seconds / 3)
                    continue
                if self.publish_pending() == 0:
                    stop.wait(self.idle_sleep)
                backoff = 0.5
            except (KafkaError, PyMongoError) as exc:
                self._lease_until = 0.0
                log.warning("outbox relay pass failed; retrying",
                            extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": backoff})
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        log.info("outbox relay stopped")


def run_relay(service: str, database: Callable[[Settings], Database]) -> None:
    """The entry point of a service's relay process (``python -m services.<service>.relay``):
    publish the outboxes of ``database(settings)`` until SIGTERM or SIGINT."""
    settings = process.start(f"{service}-relay")
    stop = process.stop_on_signals()
    producer = make_producer(settings, client_id=f"{service}-relay")
    try:
        Relay(database(settings), producer, service, settings).run(stop)
    finally:
        producer.close(timeout=10)
