"""Cursor pagination (docs/api.md): ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

A cursor is the sort key of the last row served, opaque to callers. Paging by a unique key
keeps pages stable while rows are inserted: nothing is served twice, nothing already there
is skipped.
"""

from __future__ import annotations

import base64
import json

from marshmallow import Schema, fields, validate

from shared.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=1024))


def encode_cursor(position: dict) -> str:
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("The cursor is not one this service gave out.",
                       errors={"cursor": ["Not a valid cursor."]}) from exc
    if not isinstance(position, dict):
        raise ApiError("The cursor is not one this service gave out.",
                       errors={"cursor": ["Not a valid cursor."]})
    return position


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The response schema of a list: ``{"items": [...], "next_cursor": str | null}``."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True),
         "next_cursor": fields.String(allow_none=True, required=True)},
        name=name,
    )
