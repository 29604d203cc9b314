"""Subscriptions: who wants which events where, and with which secrets they are signed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifications.domain.rule_u import sees
from services.notifications.domain.signing import new_secret
from shared.domain import Caller, DomainError, WrongState

ALL = "*"
ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"


class NotActive(WrongState):
    """The subscription is not active, so nothing can be delivered to it now."""


@dataclass(frozen=True)
class Secret:
    value: str
    # A secret replaced by rotation keeps signing until then, so receivers can switch over.
    expires_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class Subscription:
    id: str
    owner: str
    owner_role: str
    owner_county: str | None
    url: str
    event_types: tuple[str, ...]
    counties: tuple[str, ...]
    secrets: list[Secret]
    created_at: datetime
    status: str = ACTIVE
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    fingerprint: str | None = None
    version: int = 1
    # The city the owner's scope lies in: a city-scoped admin's city, a county role's county's
    # city; None for the whole region's city admin (and for subscriptions stored before it).
    owner_city: str | None = None

    @classmethod
    def create(cls, *, id: str, caller: Caller, url: str, event_types: Sequence[str],
               counties: Sequence[str], known_types: Iterable[str], known_counties: Iterable[str],
               now: datetime, owner_city: str | None = None,
               fingerprint: str | None = None) -> Subscription:
        """A new subscription for ``caller``; raises InvalidSubscription naming the bad fields."""
        errors: dict[str, list[str]] = {}
        known = set(known_types)
        unknown_types = [t for t in event_types if t != ALL and t not in known]
        if unknown_types:
            errors["event_types"] = [f"Unknown event types: {', '.join(unknown_types)}."]
        if not caller.is_city and list(counties) != [caller.county]:
            errors["counties"] = [
                f"A {caller.role} may subscribe to its own county {caller.county} only."]
        elif caller.is_city:
            known_c = set(known_counties)
            unknown = [c for c in counties if c != ALL and c not in known_c]
            outside = [c for c in counties
                       if c != ALL and c in known_c and not caller.sees_county(c)]
            if unknown:
                errors["counties"] = [f"Unknown county codes: {', '.join(unknown)}."]
            elif outside:
                errors["counties"] = [f"A city admin of {caller.city} may subscribe to its own "
                                      f"city's counties only, not {', '.join(outside)}."]
        if errors:
            raise InvalidSubscription(errors)
        return cls(id=id, owner=caller.sub, owner_role=caller.role, owner_county=caller.county,
                   owner_city=owner_city, url=url, event_types=_unique(event_types),
                   counties=_unique(counties),
                   secrets=[Secret(new_secret())], created_at=now, fingerprint=fingerprint)

    @property
    def owner_caller(self) -> Caller:
        """The owner as a caller: a subscription never carries more than its owner may see."""
        return Caller(self.owner, self.owner_role, self.owner_county,
                      self.owner_city if self.owner_role == "city_admin" else None)

    def wants(self, event_type: str, event_county: str) -> bool:
        """Whether an event of this type and county is for this subscription (rule U included)."""
        return (
            (ALL in self.event_types or event_type in self.event_types)
            and (ALL in self.counties or event_county in self.counties)
            and sees(self.owner_caller, event_type, event_county)
        )

    def owned_by(self, caller: Caller) -> bool:
        """The owner, and the city (which oversees every subscription of its scope), may
        manage it."""
        if self.status == DELETED:
            return False
        if caller.is_city:
            return caller.whole_region or caller.city == self.owner_city
        return caller.sub == self.owner

    def signing_secrets(self, now: datetime) -> list[str]:
        return [s.value for s in self.secrets if s.live(now)]

    def rotate_secret(self, now: datetime, grace: timedelta) -> str:
        """A new secret; the ones still live keep signing for ``grace`` alongside it."""
        until = now + grace
        kept = [Secret(s.value, min(s.expires_at or until, until))
                for s in self.secrets if s.live(now)]
        fresh = Secret(new_secret())
        self.secrets = [fresh, *kept]
        return fresh.value

    def disable(self, reason: str, now: datetime) -> None:
        if self.status == ACTIVE:
            self.status, self.disabled_at, self.disabled_reason = DISABLED, now, reason

    def enable(self) -> None:
        if self.status == DELETED:
            raise NotActive("a deleted subscription cannot be enabled")
        self.status, self.disabled_reason = ACTIVE, None

    def delete(self) -> None:
        self.status = DELETED



class InvalidSubscription(DomainError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for msgs in errors.values() for m in msgs), errors)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
