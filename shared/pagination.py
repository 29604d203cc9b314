"""Cursor pagination (docs/api.md): ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

A cursor is the sort key of the last row served, opaque to callers. Paging by a unique key
keeps pages stable while rows are inserted: nothing is served twice, nothing already there
is skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from marshmallow import Schema, fields, validate

from shared.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
T = TypeVar("T")


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=1024))


def encode_cursor(position: dict) -> str:
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, read: Callable[[dict], T] = lambda position: position,
                  *, field: str = "cursor") -> T | None:
    """The position a cursor of ours names, as ``read`` makes it of the decoded dict (None for
    no cursor). ``read`` raising KeyError, TypeError or ValueError means the cursor is not ours,
    and so does anything undecodable: a 400 naming ``field``."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(position, dict):
            raise TypeError("a cursor holds an object")
        return read(position)
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ApiError("The cursor is not one this service gave out.",
                       errors={field: ["Not a valid cursor."]}) from exc


def time_and_id(position: dict) -> tuple[datetime, str]:
    """A cursor reader: the (time, id) of the last row served, kept as ``at`` and ``id``."""
    return datetime.fromisoformat(position["at"]), str(position["id"])


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The response schema of a list: ``{"items": [...], "next_cursor": str | null}``."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True),
         "next_cursor": fields.String(allow_none=True, required=True)},
        name=name,
    )
