"""Idempotency-Key support (docs/api.md): the same key and body answer the first result again.

The key is folded into the id of what the request creates, and the body's fingerprint is kept
on it; a retry after a crash therefore finds the same document instead of making a second one,
with no separate store that could disagree with the data.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from flask import request

from shared.errors import ApiError

HEADER = "Idempotency-Key"
_NAMESPACE = uuid.UUID("5d1c6a7e-3f0e-4d7b-9a52-6c1f2f0a9e11")


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
