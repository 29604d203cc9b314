"""Items in MongoDB: one document per item, carrying its history and its own outbox.

Every change is one single-document write guarded by the item's ``version`` (optimistic
concurrency) and, for events, by the event id (``shared.mongo.apply_once``), with the events it
causes pushed to the document's outbox in the same write.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.issues.domain.model import CLOSED, Item
from shared import outbox
from shared.mongo import PROCESSED, apply_once

ITEMS = "items"
IMPORTS = "imports"  # one record per import sent with an Idempotency-Key
SAVED, DUPLICATE, CONFLICT = "saved", "duplicate", "conflict"
INSERT_CHUNK = 1000
DUPLICATE_KEY = 11000
# Never copied into a document by save(): the outbox belongs to the relay, processed event
# ids are pushed by apply_once, the id never changes.
_NOT_SET = {"id", "processed_events"}


class ItemRepository(Protocol):
    def get(self, item_id: str) -> Item | None: ...

    def fingerprint(self, item_id: str) -> str | None: ...

    def claim_import(self, import_id: str, fingerprint: str) -> str | None: ...

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool: ...

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None: ...

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
        self.imports: Collection = db[IMPORTS]

    def get(self, item_id: str) -> Item | None:
        doc = self.items.find_one({"_id": item_id}, {outbox.OUTBOX: 0})
        return from_document(doc) if doc else None

    def fingerprint(self, item_id: str) -> str | None:
        doc = self.items.find_one({"_id": item_id}, {"request_fingerprint": 1})
        return doc.get("request_fingerprint") if doc else None

    def claim_import(self, import_id: str, fingerprint: str) -> str | None:
        """Record an import under its Idempotency-Key; answer the fingerprint of the file
        recorded under it before, or None if this is the first time."""
        try:
            self.imports.insert_one({"_id": import_id, "request_fingerprint": fingerprint})
        except DuplicateKeyError:
            return self.imports.find_one({"_id": import_id})["request_fingerprint"]
        return None

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool:
        """Insert a new item with its events; False when the id is taken (a retry)."""
        try:
            self.items.insert_one(outbox.new_document(to_document(item, fingerprint), events))
        except DuplicateKeyError:
            return False
        return True

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None:
        """Insert many items (an import); an id already there is from an earlier attempt of
        the same import (same key, same file), and is kept as it is."""
        for start in range(0, len(batch), INSERT_CHUNK):
            chunk = batch[start:start + INSERT_CHUNK]
            docs = [outbox.new_document(to_document(item), events)
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


INDEXES: dict[str, list[tuple[str, int]]] = {
    "page": [("created_at", ASCENDING), ("_id", ASCENDING)],
    "county_page": [("county", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    "county_status": [("county", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING),
                      ("_id", ASCENDING)],
    "county_place": [("county", ASCENDING), ("township", ASCENDING), ("village", ASCENDING)],
    "status_deadline": [("status", ASCENDING), ("deadline", ASCENDING)],
    "county_deadline": [("county", ASCENDING), ("deadline", ASCENDING)],
    "overdue_scan": [("overdue_announced_for", ASCENDING), ("deadline", ASCENDING)],
    "category": [("category", ASCENDING)],
    "updated": [("updated_at", DESCENDING)],
    "board": [("county", ASCENDING), ("public", ASCENDING)],
}


def ensure_indexes(db: Database) -> None:
    """Indexes for every list filter, keyset pagination on (created_at, _id), and the scans."""
    items = db[ITEMS]
    # One call per index: FerretDB drops the connection when one createIndexes call names
    # several indexes that all exist already (every start after the first).
    for name, keys in INDEXES.items():
        items.create_index(keys, name=name)
    outbox.register(items)
