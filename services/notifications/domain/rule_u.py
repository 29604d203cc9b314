"""Rule U: an ``inspection.planned`` event is for the city alone, so no county-scoped
subscription or feed ever sees one, whatever its county or event types say."""

from __future__ import annotations

from typing import Protocol

CITY_ONLY_TYPES = frozenset({"inspection.planned"})


class Caller(Protocol):
    """Who is asking: shared.domain.Caller has this shape."""

    sub: str
    role: str
    county: str | None


def scope_of(caller: Caller) -> str | None:
    """The county a caller's events are limited to; None for the city, which sees all."""
    return None if caller.role == "city_admin" else caller.county


def visible(event_type: str, event_county: str, scope: str | None) -> bool:
    """Whether an event may reach someone whose scope is ``scope`` (None: the city). Rule U."""
    if scope is None:
        return True
    return event_county == scope and event_type not in CITY_ONLY_TYPES
