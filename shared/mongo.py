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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import pymongo
from pymongo import IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
)

from shared.config import Settings

DUPLICATE_KEY = 11000
_clients: dict[tuple[int, str], MongoClient] = {}
_pools: dict[int, ThreadPoolExecutor] = {}
AT_ONCE = 8  # single-document reads or writes in flight at once for a batch (``concurrently``)

# Server answers that mean "cannot serve now", not "this request is wrong": FerretDB answers
# InternalError (1) to everything while its PostgreSQL is unreachable; the others are MongoDB's
# shutdown, network and primary-change codes. Retrying blocks on a deterministic internal error
# instead of dead-lettering it, which loses nothing and shows as consumer lag.
UNAVAILABLE_CODES = frozenset({1, 6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436})


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot answer now, so the same request may succeed
    later; the request itself was not applied."""
    return isinstance(exc, ConnectionFailure) or (
        isinstance(exc, OperationFailure) and exc.code in UNAVAILABLE_CODES)


def timed_out(exc: BaseException) -> bool:
    """True when the database did not answer within the operation's time limit: it may be
    merely slow, so a request answers 504 (not 503, which says it is unavailable)."""
    return isinstance(exc, (ExecutionTimeout, NetworkTimeout))


def reads_within(wsgi_app, seconds: float):
    """WSGI middleware: the database work of a GET or HEAD request must end within ``seconds``
    of its start (pymongo's timeoutMS: sent as maxTimeMS, and the socket's limit), so a slow
    query is answered 504 instead of holding the worker. Writes are never cut short."""

    def bounded(environ, start_response):
        if not seconds or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return wsgi_app(environ, start_response)
        with pymongo.timeout(seconds):
            return wsgi_app(environ, start_response)

    return bounded


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


def concurrently(work: Callable, args: Iterable) -> list:
    """``work`` on each of ``args``, ``AT_ONCE`` at a time, answers in order: the single-document
    reads and writes of a batch, which FerretDB 1.24 cannot take as one (an ``$in`` on ``_id``
    is not handed to PostgreSQL: it reads the whole collection). Only for distinct documents:
    FerretDB loses concurrent updates of one."""
    args = list(args)
    if len(args) <= 1:
        return [work(arg) for arg in args]
    pool = _pools.get(os.getpid())
    if pool is None:  # threads do not survive a fork: one pool per process, as the client
        pool = _pools[os.getpid()] = ThreadPoolExecutor(AT_ONCE, thread_name_prefix="mongo")
    return list(pool.map(work, args))


def ensure_indexes(collection: Collection, indexes: list[IndexModel]) -> None:
    """Create each index with a command of its own: FerretDB 1.24 drops the connection when
    one ``createIndexes`` names several indexes and some of them already exist."""
    for index in indexes:
        collection.create_indexes([index])


def insert_new(collection: Collection, docs: list[dict]) -> set[int]:
    """Insert ``docs`` in one unordered insert, leaving those whose id exists already; answer
    the positions of the ones left. One insert of many documents is one PostgreSQL commit on
    FerretDB, where one insert each costs a commit each."""
    if not docs:
        return set()
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()
