"""Items in MongoDB: one document per item, carrying its history and its own outbox.

Every change is one single-document write guarded by the item's ``version`` (optimistic
concurrency) and, for events, by the event id (``shared.mongo.apply_once``), with the events it
causes pushed to the document's outbox in the same write.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.issues.domain.model import CLOSED, Item
from shared import outbox
from shared.mongo import PROCESSED, apply_once

ITEMS = "items"
SAVED, DUPLICATE, CONFLICT = "saved", "duplicate", "conflict"
INSERT_CHUNK = 1000
DUPLICATE_KEY = 11000
# Never copied into a document by save(): the outbox belongs to the relay, processed event
# ids are pushed by apply_once, the id never changes.
_NOT_SET = {"id", "processed_events"}


class ItemRepository(Protocol):
    def get(self, item_id: str) -> Item | None: ...

    def fingerprints(self, item_ids: list[str]) -> dict[str, str | None]: ...

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool: ...

    def add_many(self, batch: list[tuple[Item, list[dict]]], *,
                 fingerprint: str | None = None) -> None: ...

    def save(self, item: Item, events: list[dict], *, expected_version: int,
             event_id: str | None = None) -> str: ...

    def overdue_candidates(self, today: date, limit: int) -> list[Item]: ...


def to_document(item: Item, fingerprint: str | None = None) -> dict:
    doc = _fields(item)
    doc["_id"] = item.id
    doc[PROCESSED] = list(item.processed_events)
    if fingerprint is not None:
        doc["request_fingerprint"] = fingerprint
    return doc


def _fields(item: Item) -> dict:
    doc = {name: value for name, value in vars(item).items() if name not in _NOT_SET}
    doc["deadline"] = item.deadline.isoformat()  # ISO dates sort as strings
    if item.overdue_announced_for is not None:
        doc["overdue_announced_for"] = item.overdue_announced_for.isoformat()
    return doc


def from_document(doc: dict) -> Item:
    announced = doc.get("overdue_announced_for")
    return Item(
        id=doc["_id"], county=doc["county"], township=doc["township"], village=doc["village"],
        problem=doc["problem"], measure=doc["measure"],
        deadline=date.fromisoformat(doc["deadline"]), created_at=doc["created_at"],
        updated_at=doc["updated_at"], responsible=doc.get("responsible"),
        category=doc.get("category"), public=doc.get("public", False), status=doc["status"],
        version=doc["version"], reopen_count=doc.get("reopen_count", 0),
        overdue_count=doc.get("overdue_count", 0),
        overdue_announced_for=date.fromisoformat(announced) if announced else None,
        closed_at=doc.get("closed_at"), days_to_close=doc.get("days_to_close"),
        inspection_id=doc.get("inspection_id"), history=doc.get("history", []),
        processed_events=doc.get(PROCESSED, []),
    )


class MongoItemRepository:
    def __init__(self, db: Database):
        self.items: Collection = db[ITEMS]

    def get(self, item_id: str) -> Item | None:
        doc = self.items.find_one({"_id": item_id}, {outbox.OUTBOX: 0})
        return from_document(doc) if doc else None

    def fingerprints(self, item_ids: list[str]) -> dict[str, str | None]:
        """The request fingerprint of each of ``item_ids`` that exists (idempotent retries)."""
        found: dict[str, str | None] = {}
        for start in range(0, len(item_ids), INSERT_CHUNK):
            cursor = self.items.find({"_id": {"$in": item_ids[start:start + INSERT_CHUNK]}},
                                     {"request_fingerprint": 1})
            found.update((doc["_id"], doc.get("request_fingerprint")) for doc in cursor)
        return found

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool:
        """Insert a new item with its events; False when the id is taken (a retry)."""
        try:
            self.items.insert_one(outbox.new_document(to_document(item, fingerprint), events))
        except DuplicateKeyError:
            return False
        return True

    def add_many(self, batch: list[tuple[Item, list[dict]]], *,
                 fingerprint: str | None = None) -> None:
        """Insert many items (an import); an id already there is a concurrent retry's, kept."""
        for start in range(0, len(batch), INSERT_CHUNK):
            chunk = batch[start:start + INSERT_CHUNK]
            docs = [outbox.new_document(to_document(item, fingerprint), events)
                    for item, events in chunk]
            try:
                self.items.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise

    def save(self, item: Item, events: list[dict], *, expected_version: int,
             event_id: str | None = None) -> str:
        """Write ``item`` if it is still at ``expected_version`` and has not seen ``event_id``."""
        update = outbox.with_events({"$set": _fields(item)}, events)
        applied = apply_once(self.items, item.id, update, event_id=event_id,
                             version=expected_version)
        if applied.applied:
            return SAVED
        return DUPLICATE if applied.duplicate else CONFLICT

    def overdue_candidates(self, today: date, limit: int) -> list[Item]:
        """Items past their deadline, not closed, whose deadline was not yet announced."""
        query = {"deadline": {"$lt": today.isoformat()}, "status": {"$ne": CLOSED},
                 "overdue_announced_for": None}
        cursor = self.items.find(query, {outbox.OUTBOX: 0}).sort("deadline", ASCENDING)
        return [from_document(doc) for doc in cursor.limit(limit)]


def ensure_indexes(db: Database) -> None:
    """Indexes for every list filter, keyset pagination on (created_at, _id), and the scans."""
    items = db[ITEMS]
    page = [("created_at", ASCENDING), ("_id", ASCENDING)]
    items.create_indexes([
        IndexModel(page, name="page"),
        IndexModel([("county", ASCENDING), *page], name="county_page"),
        IndexModel([("county", ASCENDING), ("status", ASCENDING), *page], name="county_status"),
        IndexModel([("county", ASCENDING), ("township", ASCENDING), ("village", ASCENDING)],
                   name="county_place"),
        IndexModel([("status", ASCENDING), ("deadline", ASCENDING)], name="status_deadline"),
        IndexModel([("county", ASCENDING), ("deadline", ASCENDING)], name="county_deadline"),
        IndexModel([("overdue_announced_for", ASCENDING), ("deadline", ASCENDING)],
                   name="overdue_scan"),
        IndexModel([("category", ASCENDING)], name="category"),
        IndexModel([("updated_at", DESCENDING)], name="updated"),
        IndexModel([("county", ASCENDING), ("public", ASCENDING)], name="board"),
    ])
    outbox.register(items)
