"""MongoDB connections, one client per process, and index creation that FerretDB survives.

pymongo's MongoClient is not fork-safe, so the client is keyed by process id: a gunicorn worker
that forks after the master touched the database builds its own.
Only features that MongoDB and FerretDB 1.x both support are used: unique indexes, inserts,
single-document updates, and simple aggregation stages. FerretDB 1.24 applies an update as a
read then a write with no lock, so what must not be lost is written as inserts under a unique
id (shared.changelog).
"""

from __future__ import annotations

import os

from pymongo import IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from shared.config import Settings

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


def ensure_indexes(collection: Collection, indexes: list[IndexModel]) -> None:
    """Create each index with a command of its own: FerretDB 1.24 drops the connection when
    one ``createIndexes`` names several indexes and some of them already exist."""
    for index in indexes:
        collection.create_indexes([index])
