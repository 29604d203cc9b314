"""Subscriptions, deliveries and the feed: the rules of notifying county systems. No I/O here.

Rule U lives in ``visible``: an ``inspection.planned`` event is for the city alone, so no
county-scoped subscription or feed ever sees one, whatever its county or event types say.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import ipaddress
import itertools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

ALL = "*"
CITY_ONLY_TYPES = frozenset({"inspection.planned"})
SECRET_PREFIX = "whsec_"

ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"
# A delivery is pending (waiting for its next attempt), in flight (claimed by a worker, under a
# lease), or finished: delivered, failed (every attempt used up; replayable) or cancelled
# (its subscription stopped).
PENDING, IN_FLIGHT = "pending", "in_flight"
DELIVERED, FAILED, CANCELLED = "delivered", "failed", "cancelled"
UNFINISHED = (PENDING, IN_FLIGHT)


class Caller(Protocol):
    """Who is asking: shared.auth.Principal has this shape."""

    sub: str
    role: str
    county: str | None


class NotAllowed(Exception):
    """The caller may not do this (a 403 at the edge)."""


class NotActive(Exception):
    """The subscription is not active, so nothing can be delivered to it now."""


def scope_of(caller: Caller) -> str | None:
    """The county a caller's events are limited to; None for the city, which sees all."""
    return None if caller.role == "city_admin" else caller.county


def visible(event_type: str, event_county: str, scope: str | None) -> bool:
    """Whether an event may reach someone whose scope is ``scope`` (None: the city). Rule U."""
    if scope is None:
        return True
    return event_county == scope and event_type not in CITY_ONLY_TYPES


# --- secrets and signatures (Standard Webhooks) ------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``{id}.{timestamp}.{body}`` with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Iterable[str], message_id: str, timestamp: int,
                     body: bytes) -> str:
    """One signature per live secret, space-separated, as Standard Webhooks allows."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)


@dataclass(frozen=True)
class Secret:
    value: str
    # A secret replaced by rotation keeps signing until then, so receivers can switch over.
    expires_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


# --- subscriptions ------------------------------------------------------------------------------


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

    @classmethod
    def create(cls, *, id: str, caller: Caller, url: str, event_types: Sequence[str],
               counties: Sequence[str], known_types: Iterable[str], known_counties: Iterable[str],
               now: datetime, fingerprint: str | None = None) -> Subscription:
        """A new subscription for ``caller``; raises InvalidSubscription naming the bad fields."""
        errors: dict[str, list[str]] = {}
        known = set(known_types)
        unknown_types = [t for t in event_types if t != ALL and t not in known]
        if unknown_types:
            errors["event_types"] = [f"Unknown event types: {', '.join(unknown_types)}."]
        scope = scope_of(caller)
        if scope is not None and list(counties) != [scope]:
            errors["counties"] = [f"A {caller.role} may subscribe to its own county {scope} only."]
        elif scope is None:
            known_c = set(known_counties)
            unknown = [c for c in counties if c != ALL and c not in known_c]
            if unknown:
                errors["counties"] = [f"Unknown county codes: {', '.join(unknown)}."]
        if errors:
            raise InvalidSubscription(errors)
        return cls(id=id, owner=caller.sub, owner_role=caller.role, owner_county=caller.county,
                   url=url, event_types=_unique(event_types), counties=_unique(counties),
                   secrets=[Secret(new_secret())], created_at=now, fingerprint=fingerprint)

    @property
    def scope(self) -> str | None:
        return None if self.owner_role == "city_admin" else self.owner_county

    def wants(self, event_type: str, event_county: str) -> bool:
        """Whether an event of this type and county is for this subscription (rule U included)."""
        return (
            (ALL in self.event_types or event_type in self.event_types)
            and (ALL in self.counties or event_county in self.counties)
            and visible(event_type, event_county, self.scope)
        )

    def owned_by(self, caller: Caller) -> bool:
        """The owner, and the city (which oversees every subscription), may manage it."""
        return self.status != DELETED and (caller.role == "city_admin" or caller.sub == self.owner)

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

    def require_active(self) -> None:
        if self.status != ACTIVE:
            raise NotActive(f"the subscription is {self.status}")


class InvalidSubscription(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for msgs in errors.values() for m in msgs))
        self.errors = errors


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --- webhook URL safety -------------------------------------------------------------------------

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))


def url_problem(url: str) -> str | None:
    """What is wrong with the URL itself, before any address is looked at."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        return "The URL must use https or http."
    if not parts.hostname:
        return "The URL must name a host."
    if parts.username or parts.password:
        return "The URL must not carry credentials."
    try:
        parts.port  # noqa: B018 — raises for a port out of range
    except ValueError:
        return "The URL's port is not valid."
    return None


def address_problem(address: str) -> str | None:
    """Why webhooks must not go to this address (SSRF protection), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for flag, reason in (("is_loopback", "a loopback address"),
                         ("is_link_local", "a link-local address"),
                         ("is_unspecified", "the unspecified address"),
                         ("is_multicast", "a multicast address"),
                         ("is_private", "a private or unique-local address"),
                         ("is_reserved", "a reserved address")):
        if getattr(ip, flag):
            return reason
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks an operator admits despite the address rule (WEBHOOK_ALLOWED_HOSTS)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: str) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip.version == n.version and ip in n for n in self.networks)


def destination_problem(url: str, addresses: Sequence[str], allowed: AllowList) -> str | None:
    """Why a webhook must not be sent to ``url`` whose host resolved to ``addresses``."""
    if problem := url_problem(url):
        return problem
    host = urlsplit(url).hostname or ""
    if not addresses:
        return f"The host {host} does not resolve to any address."
    for address in addresses:
        reason = address_problem(address)
        if reason and not allowed.admits(host, address):
            return (f"The host {host} resolves to {address}, {reason}; webhooks are not sent "
                    "there unless an operator admits it in WEBHOOK_ALLOWED_HOSTS.")
    return None


# --- deliveries ---------------------------------------------------------------------------------


def next_delay(schedule: Sequence[int], attempts_made: int) -> int | None:
    """Seconds to wait before the next attempt, or None when every attempt is used up.

    ``schedule[i]`` is the wait before attempt i+1: the first entry (0 by default) is the wait
    before the first attempt, so the schedule also gives the number of attempts.
    """
    return schedule[attempts_made] if attempts_made < len(schedule) else None


@dataclass(frozen=True)
class Answer:
    """What one HTTP attempt got: a status code, or no answer and why."""

    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def outcome(self) -> str:
        """success, gone, http_error, no_answer or refused (bounded: a metrics label)."""
        if self.status is None:
            return "refused" if self.error and self.error.startswith("refused") else "no_answer"
        if 200 <= self.status < 300:
            return "success"
        return "gone" if self.status == 410 else "http_error"


@dataclass
class Delivery:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    subject: str
    seq: int  # the order the service received the event in; per-subject order follows it
    event_time: datetime
    next_attempt_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    @staticmethod
    def id_for(subscription_id: str, event_id: str) -> str:
        # One delivery per subscription and event: a redelivered event creates nothing twice.
        return f"{subscription_id}:{event_id}"

    def record(self, answer: Answer, schedule: Sequence[int], now: datetime) -> None:
        """Apply one attempt's answer: delivered, retry later, or failed for good."""
        self.attempts += 1
        self.last_status, self.last_error = answer.status, answer.error
        if answer.outcome == "success":
            self.status, self.delivered_at = DELIVERED, now
            return
        delay = None if answer.outcome == "gone" else next_delay(schedule, self.attempts)
        if delay is None:
            self.status = FAILED
        else:
            self.status, self.next_attempt_at = PENDING, now + timedelta(seconds=delay)

    def replay(self, now: datetime) -> bool:
        """Send again from the first attempt; False while it is still on its way."""
        if self.status in UNFINISHED:
            return False
        self.status, self.attempts, self.next_attempt_at = PENDING, 0, now
        self.last_status = self.last_error = self.delivered_at = None
        return True


@dataclass(frozen=True)
class Attempt:
    """One try at a delivery, as the owner sees it in the delivery log."""

    delivery_id: str
    subscription_id: str
    event_id: str
    event_type: str
    number: int
    at: datetime
    outcome: str
    status: int | None
    latency_ms: float
    error: str | None
    next_attempt_at: datetime | None

    @property
    def id(self) -> str:
        return f"{self.delivery_id}:{self.number}"


# --- the pull feed ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """An event as the service keeps it: the envelope at its place in the broker's log."""

    id: str
    type: str
    county: str
    subject: str
    time: datetime
    seq: int  # the order of receipt across the whole service
    partition: str  # "topic:partition"
    offset: int
    envelope: dict


@dataclass
class FeedPosition:
    """Where a reader stands: the last offset it was given on every partition.

    Each partition is consumed in order by one consumer at a time, which stores every event
    before the next, so offsets appear in the store in order: "everything after offset n" never
    skips an event that is stored later (no gaps), and never repeats one (no duplicates).
    """

    offsets: dict[str, int] = field(default_factory=dict)

    def after(self, partition: str) -> int:
        return self.offsets.get(partition, -1)

    def advance(self, entries: Iterable[StoredEvent]) -> None:
        for entry in entries:
            self.offsets[entry.partition] = max(self.after(entry.partition), entry.offset)


def merge_page(candidates: Iterable[Sequence[StoredEvent]], limit: int) -> list[StoredEvent]:
    """Up to ``limit`` entries, oldest first, taking a prefix of each partition's candidates.

    heapq.merge only ever takes the head of a partition's list, so each partition is served in
    offset order even where event times are not monotonic: an entry is never passed over on its
    partition while a later one is served, which is what keeps the cursor gap-free.
    """
    merged = heapq.merge(*candidates, key=lambda e: (e.time, e.partition))
    return list(itertools.islice(merged, limit))
