"""Rule U: an ``inspection.planned`` event is for the city alone, so no county-scoped
subscription or feed ever sees one, whatever its county or event types say.

Everyone else sees the events of their scope (shared.domain.Caller.sees_county): a county
role its county's; a city admin its city's when the token's ``city`` claim scopes it to one city
of a province (docs/authorisation.md), or the whole region's without it. The city admins see
``inspection.planned`` of their scope: they plan the inspections."""

from __future__ import annotations

from shared.domain import Caller

CITY_ONLY_TYPES = frozenset({"inspection.planned"})


def withheld(caller: Caller) -> frozenset[str]:
    """The event types that never reach ``caller``, whatever their county."""
    return frozenset() if caller.is_city else CITY_ONLY_TYPES


def sees(caller: Caller, event_type: str, event_county: str) -> bool:
    """Whether an event reaches ``caller`` (a subscription's owner, a feed's reader)."""
    return caller.sees_county(event_county) and event_type not in withheld(caller)
