"""MongoDB connections, one client per process, and the "apply once" guarded update.

pymongo's MongoClient is not fork-safe, so the client is keyed by process id: a gunicorn worker
that forks after the master touched the database builds its own.
Only features that MongoDB and FerretDB 1.x both support are used: single-document atomic
updates, unique indexes, find_one_and_update, and simple aggregation stages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pymongo import IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from shared.config import Settings

PROCESSED = "processed_events"
_clients: dict[tuple[int, str], MongoClient] = {}


def client(uri: str) -> MongoClient:
    key = (os.getpid(), uri)
    if key not in _clients:
        _clients[key] = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000,
            socketTimeoutMS=30000, appname=f"supervision-{os.getpid()}",
        )
    return _clients[key]


def database(settings: Settings, service: str) -> Database:
    return client(settings.mongodb_uri)[settings.database_name(service)]


def ping(db: Database) -> None:
    db.command("ping")


@dataclass(frozen=True)
class Applied:
    """What a guarded update did: ``applied``, or why not (``duplicate`` or ``conflict``)."""

    applied: bool
    duplicate: bool = False

    @property
    def conflict(self) -> bool:
        return not self.applied and not self.duplicate


def apply_once(collection: Collection, _id, update: Mapping, *, event_id: str | None = None,
               version: int | None = None) -> Applied:
    """Apply ``update`` to one document at most once per event, and only at ``version``.

    The event id is recorded in the same atomic write as the change, so a redelivered event
    finds its id already there and changes nothing; a stale ``version`` means somebody else
    changed the document first (optimistic concurrency): reload and decide again.
    """
    query: dict = {"_id": _id}
    update = {op: dict(fields) for op, fields in update.items()}
    if event_id is not None:
        query[PROCESSED] = {"$ne": event_id}
        update.setdefault("$push", {})[PROCESSED] = event_id
    if version is not None:
        query["version"] = version
    if collection.update_one(query, update).matched_count:
        return Applied(True)
    duplicate = event_id is not None and collection.count_documents(
        {"_id": _id, PROCESSED: event_id}, limit=1
    ) > 0
    return Applied(False, duplicate=duplicate)


def seen(collection: Collection, _id, event_id: str) -> bool:
    """Whether the document already recorded ``event_id`` as applied."""
    return collection.count_documents({"_id": _id, PROCESSED: event_id}, limit=1) > 0


def ensure_indexes(collection: Collection, indexes: list[IndexModel]) -> None:
    """Create each index with a command of its own: FerretDB 1.24 drops the connection when
    one ``createIndexes`` names several indexes and some of them already exist."""
    for index in indexes:
        collection.create_indexes([index])
