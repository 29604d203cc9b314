"""Idempotency-Key support (docs/api.md): the same key and body answer the first result again.

Two parts, each for what the other cannot do:

- The key is folded into the id of what the request creates (``derived_id``) and the body's
  fingerprint is kept on it: a request repeated after a crash finds the same document instead of
  making a second one, so nothing is ever done twice, whatever happens between the writes.
- The first answer (status, body, Location and ETag) is kept as an idempotency record under the
  key (``idempotent``), and a repeat is answered with it, byte for byte, with the header
  ``Idempotent-Replayed: true``: the state of the thing may have moved on since (an item
  reopened by the results a moment ago), but the answer to the request has not. Only 2xx answers
  are kept; a refused request may be sent again under its key once what refused it is fixed.

Records are kept ``IDEMPOTENCY_RETENTION_SECONDS`` (7 days: a phone may resend what waited
offline for days) and then swept (``Records.sweep``); FerretDB 1.24 has no TTL indexes. A
repeat after that is still done once (the first part), answered with the current state.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Response, current_app, request
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.auth import current_caller
from shared.errors import ApiError, Conflict

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
PARAMETER = {"in": "header", "name": HEADER, "required": False, "schema": {"type": "string"},
             "description": "the same key and body answer the first result again"}
RECORDS, SWEEPS = "idempotency_records", "idempotency_sweeps"
# Headers of the first answer that a repeat gets again; the rest are the response's own.
KEPT_HEADERS = ("Location", "ETag")
# An answer larger than this is not kept (BSON documents end at 16 MB); its repeat is answered
# with the current state, as after the retention.
MAX_KEPT_BYTES = 4 * 1024 * 1024
_NAMESPACE = uuid.UUID("5d1c6a7e-3f0e-4d7b-9a52-6c1f2f0a9e11")
log = logging.getLogger(__name__)


def key() -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if not 1 <= len(value) <= 255 or not value.isprintable():
        raise ApiError(f"{HEADER} must be 1 to 255 printable characters.",
                       errors={HEADER: ["Invalid key."]})
    return value


def fingerprint(body) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def derived_id(scope: str, caller: str, idempotency_key: str) -> str:
    """A stable id for what ``caller`` creates under ``idempotency_key`` in ``scope``."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}\n{caller}\n{idempotency_key}"))


def request_fingerprint() -> str:
    """The fingerprint of this request as sent: its query, and its JSON body, or its uploaded
    files and form fields (a multipart boundary differs on every send), or its raw body."""
    # Ordered by their text: a malformed part may have no name at all (None).
    parts: dict = {"query": sorted(request.args.items(multi=True), key=repr)}
    if request.is_json:
        parts["json"] = request.get_json(silent=True)
    elif request.mimetype == "multipart/form-data":
        parts["form"] = sorted(request.form.items(multi=True), key=repr)
        parts["files"] = sorted(((name, _digest(upload))
                                 for name, upload in request.files.items(multi=True)), key=repr)
    else:
        parts["body"] = hashlib.sha256(request.get_data()).hexdigest()
    return fingerprint(parts)


def _digest(upload) -> str:
    digest = hashlib.sha256(upload.stream.read()).hexdigest()
    upload.stream.seek(0)  # the view reads it again
    return digest


class Records:
    """The first answers, one document each under the id derived from the key."""

    def __init__(self, db: Database, *, retention: timedelta, sweep_every: timedelta):
        self.records = db[RECORDS]
        self.sweeps = db[SWEEPS]
        self.retention, self.sweep_every = retention, sweep_every

    def find(self, record_id: str) -> dict | None:
        return self.records.find_one({"_id": record_id})

    def keep(self, record_id: str, request_fingerprint: str, response: Response,
             now: datetime) -> None:
        """Keep a first answer; of two at once under one key, the first kept stays."""
        body = response.get_data()
        if len(body) > MAX_KEPT_BYTES:
            return
        headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
        record = {"_id": record_id, "fingerprint": request_fingerprint,
                  "status": response.status_code, "content_type": response.content_type,
                  "headers": headers, "body": body, "created_at": now}
        with contextlib.suppress(DuplicateKeyError):
            self.records.insert_one(record)

    def period(self, now: datetime) -> int:
        return int(now.timestamp() // self.sweep_every.total_seconds())

    def sweep(self, now: datetime) -> int | None:
        """Delete the records past their retention, once per ``sweep_every`` whoever asks: the
        first to insert this period's sweep document holds its lease (an insert under a unique
        id, which FerretDB cannot lose as it loses concurrent updates). Answers how many were
        deleted, or None when another process holds the period."""
        try:
            self.sweeps.insert_one({"_id": self.period(now), "at": now})
        except DuplicateKeyError:
            return None
        cutoff = now - self.retention
        deleted = self.records.delete_many({"created_at": {"$lt": cutoff}}).deleted_count
        self.sweeps.delete_many({"at": {"$lt": cutoff}})
        return deleted


def records(db: Database) -> Records:
    settings = current_app.config["SETTINGS"]
    return Records(db, retention=timedelta(seconds=settings.idempotency_retention_seconds),
                   sweep_every=timedelta(seconds=settings.idempotency_sweep_seconds))


def idempotent(database: Callable[[], Database]):
    """Decorator of a view that honours Idempotency-Key, below ``shared.auth.require``: a
    repeat of a request (same caller, method, path, key and body) is answered with the first
    answer; the same key with another body is 409. ``database`` gives the service's database."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            given = key()
            if given is None:
                return view(*args, **kwargs)
            record_id = derived_id(f"{request.method} {request.path}", current_caller().sub,
                                   given)
            sent = request_fingerprint()
            store = records(database())
            first = store.find(record_id)
            if first is not None:
                if first["fingerprint"] != sent:
                    raise Conflict(f"This {HEADER} was used with another request body.")
                return _replay(first)
            response = current_app.make_response(view(*args, **kwargs))
            if 200 <= response.status_code < 300:
                now = clock.now_ms()
                store.keep(record_id, sent, response, now)
                _sweep_in_background(store, now)
            return response

        return wrapper

    return decorator


def _replay(record: dict) -> Response:
    response = Response(record["body"], status=record["status"],
                        content_type=record["content_type"])
    for name, value in record["headers"].items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


_tried: dict[str, int] = {}  # database → the last period this process tried to sweep


def _sweep_in_background(store: Records, now: datetime) -> None:
    """Sweep when this period's lease is free, without holding up the answer; a process tries
    once a period."""
    period = store.period(now)
    if _tried.get(store.records.database.name) == period:
        return
    _tried[store.records.database.name] = period

    def sweep() -> None:
        try:
            deleted = store.sweep(now)
        except Exception:  # the next period's sweep tries again
            log.exception("idempotency records not swept")
            return
        if deleted is not None:
            log.info("idempotency records swept", extra={"deleted": deleted})

    threading.Thread(target=sweep, name="idempotency-sweep", daemon=True).start()
