"""What every service's domain shares: the caller, its refusals and the events its changes
cause. Plain Python, no I/O, no HTTP.

A rule that refuses what was asked raises a ``DomainError`` kind; nothing was changed.
``errors`` maps each input at fault to its messages. shared/errors.py turns them into
problem+json once for every service (the status follows the kind: 422, 403, 404, 409).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.divisions import in_city

CITY_ADMIN, COUNTY_ADMIN = "city_admin", "county_admin"
# Roles scoped to one county: a county admin's and a subscriber's county is all they may see.
SCOPED_ROLES = (COUNTY_ADMIN, "subscriber")


@dataclass(frozen=True)
class Caller:
    """Whoever asks (docs/domain.md): a token's subject, role and county (the scope of a county
    admin or subscriber, an inspector's home county) and, for a city admin of a province, the
    city the token names (None: the whole region); or a service itself acting on an event."""

    sub: str
    role: str
    county: str | None = None
    city: str | None = None

    @property
    def is_city(self) -> bool:
        return self.role == CITY_ADMIN

    @property
    def whole_region(self) -> bool:
        """A city admin whose token names no city: its scope is the whole region."""
        return self.is_city and self.city is None

    def sees_county(self, county: str) -> bool:
        """Whether this caller's scope covers ``county``: a city admin's city (or the whole
        region), a county admin's or subscriber's county."""
        if self.is_city:
            return self.city is None or in_city(county, self.city)
        return self.role in SCOPED_ROLES and self.county == county

    def administers(self, county: str) -> bool:
        """Whether this caller may keep ``county``'s items: the city, or its county admin."""
        if self.is_city:
            return self.city is None or in_city(county, self.city)
        return self.role == COUNTY_ADMIN and self.county == county


class DomainError(Exception):
    """What was asked breaks a rule (422). ``field`` is shorthand for one input at fault."""

    def __init__(self, message: str, errors: dict | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else ({field: [message]} if field else None)

    @property
    def field(self) -> str | None:
        """The one input at fault, when exactly one is."""
        return next(iter(self.errors)) if self.errors and len(self.errors) == 1 else None


class NotPermitted(DomainError):
    """The caller's role or scope does not allow this (403; the answer names no field)."""


class WrongState(DomainError):
    """The thing is not in a state that allows this now (409)."""


class Unknown(DomainError):
    """No such thing, or one the caller may not know exists (404; rule U)."""


@dataclass(frozen=True)
class Change:
    """An event a change causes, as the domain states it: its catalog type and data, and where
    they are not the aggregate's own, its subject (a check's item) and county. The handlers
    make CloudEvents of them (shared.events.envelopes) and save them with the change, in one
    insert."""

    type: str
    data: dict
    subject: str | None = None
    county: str | None = None
