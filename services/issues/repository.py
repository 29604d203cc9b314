"""Items in MongoDB, through the change log (shared.changelog says why).

Every change of an item is one insert into ``item_changes`` (id ``<item>:<version>``) holding the
item's new state, with its history and the ids of the events applied to it, and the events the
change causes (its outbox). The unique id is the optimistic-concurrency guard: of two changes
decided on the same version one is recorded, the other is told to read again. ``items`` keeps
each item's current state for the lists, the reports and the overdue scan.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.issues.domain.model import CLOSED, Item
from shared.changelog import ChangeLog

ITEMS, CHANGES = "items", "item_changes"
IMPORTS = "imports"  # one record per import sent with an Idempotency-Key
PROCESSED = "processed_events"  # the ids of the events applied to the item, carried along
FINGERPRINT = "request_fingerprint"  # of the request that created the item (Idempotency-Key)


class ItemRepository(Protocol):
    def get(self, item_id: str) -> Item | None: ...

    def fingerprint(self, item_id: str) -> str | None: ...

    def claim_import(self, import_id: str, fingerprint: str) -> str | None: ...

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool: ...

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None: ...

    def save(self, item: Item, events: list[dict]) -> bool:
        """Record the change that brought ``item`` to its version, decided on the version before;
        False when somebody else changed it first (read again, decide again)."""

    def overdue_candidates(self, today: date, limit: int) -> list[Item]: ...

    def current_of(self, item_ids: list[str]) -> dict[str, Item]:
        """Many items as the current states have them (a moment behind at worst)."""

    def save_many(self, batch: list[tuple[Item, list[dict]]]) -> list[bool]:
        """``save`` for many changes at once, those of one item in order; a change after a
        refused one is refused too."""


def to_document(item: Item, fingerprint: str | None = None) -> dict:
    """The item's state as stored: in its change and, less the fingerprint, as current."""
    doc = {name: value for name, value in vars(item).items() if name != "id"}
    doc["_id"] = item.id
    doc[PROCESSED] = list(item.processed_events)
    if fingerprint is not None:
        doc[FINGERPRINT] = fingerprint
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


def changelog(db: Database) -> ChangeLog:
    return ChangeLog(db, ITEMS, CHANGES, key="item_id")


class MongoItemRepository:
    def __init__(self, db: Database):
        self.log = changelog(db)
        self.items: Collection = self.log.current
        self.imports: Collection = db[IMPORTS]

    def get(self, item_id: str) -> Item | None:
        doc = self.log.get(item_id)
        return from_document(doc) if doc else None

    def fingerprint(self, item_id: str) -> str | None:
        """The fingerprint of the request that created the item, kept with its first change."""
        created = self.log.at(item_id, 1) or self.items.find_one({"_id": item_id}) or {}
        return created.get(FINGERPRINT)

    def claim_import(self, import_id: str, fingerprint: str) -> str | None:
        """Record an import under its Idempotency-Key; answer the fingerprint of the file
        recorded under it before, or None if this is the first time."""
        try:
            self.imports.insert_one({"_id": import_id, FINGERPRINT: fingerprint})
        except DuplicateKeyError:
            return self.imports.find_one({"_id": import_id})[FINGERPRINT]
        return None

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool:
        """Record a new item with its events; False when the id is taken (a retry)."""
        return self.log.record(to_document(item, fingerprint), events)

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None:
        """Record many new items (an import); an id already there is from an earlier attempt of
        the same import (same key, same file), and is kept as it is."""
        self.log.record_new((to_document(item), events) for item, events in batch)

    def save(self, item: Item, events: list[dict]) -> bool:
        return self.log.record(to_document(item), events)

    def current_of(self, item_ids: list[str]) -> dict[str, Item]:
        return {id_: from_document(doc) for id_, doc in self.log.current_of(item_ids).items()}

    def save_many(self, batch: list[tuple[Item, list[dict]]]) -> list[bool]:
        return self.log.record_many([(to_document(item), events) for item, events in batch])

    def overdue_candidates(self, today: date, limit: int) -> list[Item]:
        """Items past their deadline, not closed, whose deadline was not yet announced."""
        query = {"deadline": {"$lt": today.isoformat()}, "status": {"$ne": CLOSED},
                 "overdue_announced_for": None}
        cursor = self.items.find(query).sort("deadline", ASCENDING)
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
    changelog(db).ensure_indexes()
