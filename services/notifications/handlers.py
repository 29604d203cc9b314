"""What the notifications API does, one plain function per use: load, decide, save. The
consumer's use case is in ``recording.py``, the dispatcher's in ``delivering.py``, the feed's in
``feed.py``.

The stores are passed in (``repository.Stores`` on MongoDB, the fakes in unit tests); so are the
outside world's doors (DNS resolution) and the clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from services.notifications.domain.deliveries import Attempt, Delivery
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.subscriptions import (
    ACTIVE,
    InvalidSubscription,
    NotActive,
    Subscription,
)
from services.notifications.domain.url_safety import AllowList, destination_problem
from services.notifications.repository import StaleSubscription, Stores
from shared import divisions, idempotency
from shared.domain import Caller, DomainError, NotPermitted, Unknown, WrongState
from shared.events import CATALOG

# The outside world, as the handlers see it.
Resolve = Callable[[str], list[str]]  # host -> addresses ([] when it does not resolve)

REPLAY_LIMIT = 10_000  # events re-delivered by one replay call; the answer says where to go on


@dataclass(frozen=True)
class Destinations:
    """Where webhooks may go: the resolver and the operator's allow-list."""

    resolve: Resolve
    allowed: AllowList

    def check(self, url: str) -> tuple[str | None, list[str]]:
        """Why webhooks must not go to ``url`` (or None), and the addresses its host resolved
        to: the ones a webhook is then sent to, without resolving the name again."""
        host = urlsplit(url).hostname
        addresses = self.resolve(host) if host else []
        return destination_problem(url, addresses, self.allowed), addresses

    def problem(self, url: str) -> str | None:
        return self.check(url)[0]


# --- subscriptions ------------------------------------------------------------------------------


def create_subscription(stores: Stores, caller: Caller, body: dict, *, key: str | None,
                        destinations: Destinations, now: datetime) -> tuple[Subscription, bool]:
    """The new subscription and True; or, for a retried Idempotency-Key, the first one and False."""
    fingerprint = idempotency.fingerprint(body) if key else None
    id_ = idempotency.derived_id("subscription", caller.sub, key) if key else str(uuid.uuid4())
    if key and (first := stores.subscriptions.get(id_)) is not None:
        return _same_request(first, fingerprint), False
    if problem := destinations.problem(body["url"]):
        raise DomainError(problem, field="url")
    try:
        subscription = Subscription.create(
            id=id_, caller=caller, url=body["url"], event_types=body["event_types"],
            counties=body["counties"], known_types=CATALOG,
            known_counties=divisions.current().counties, now=now,
            owner_city=owner_city(caller), fingerprint=fingerprint)
    except InvalidSubscription as exc:
        if "counties" in exc.errors and not caller.whole_region:
            raise NotPermitted(str(exc), exc.errors) from exc
        raise
    if not stores.subscriptions.add(subscription):  # a concurrent retry with the same key won
        return _same_request(stores.subscriptions.get(id_), fingerprint), False
    return subscription, True


def _same_request(first: Subscription, fingerprint: str | None) -> Subscription:
    if first.fingerprint != fingerprint:
        raise WrongState("This Idempotency-Key was used with another request body.")
    return first


def subscription_of(stores: Stores, caller: Caller, id_: str) -> Subscription:
    """The subscription, if the caller may see it; 404 otherwise (its existence is not told)."""
    subscription = stores.subscriptions.get(id_)
    if subscription is None or not subscription.owned_by(caller):
        raise Unknown(f"No subscription {id_}.")
    return subscription


def owner_city(caller: Caller) -> str | None:
    """The city a caller's scope lies in (None: the whole region's city admin)."""
    if caller.is_city:
        return caller.city
    return divisions.current().city_of(caller.county) if caller.county else None


def list_subscriptions(stores: Stores, caller: Caller, after: str | None,
                       limit: int) -> list[Subscription]:
    """The caller's own subscriptions; a city admin sees every one of its scope."""
    if not caller.is_city:
        return stores.subscriptions.page(after, limit, owner=caller.sub)
    return stores.subscriptions.page(after, limit, owner_city=caller.city)


def change_subscription(stores: Stores, caller: Caller, id_: str,
                        change: Callable[[Subscription], object]) -> tuple[Subscription, object]:
    """Apply ``change`` for the caller; answers the subscription and what ``change`` returned."""
    return change_latest(stores, lambda: subscription_of(stores, caller, id_), change)


def change_latest(stores: Stores, load: Callable[[], Subscription],
            change: Callable[[Subscription], object]) -> tuple[Subscription, object]:
    """Apply ``change`` to the latest version, again if somebody changed it meanwhile."""
    while True:
        subscription = load()
        try:
            outcome = change(subscription)
        except NotActive as exc:
            raise WrongState(f"The subscription cannot do that: {exc}.") from exc
        try:
            stores.subscriptions.save(subscription)
        except StaleSubscription:
            continue
        return subscription, outcome


def rotate_secret(stores: Stores, caller: Caller, id_: str, *, grace: timedelta,
                  now: datetime) -> tuple[Subscription, str]:
    return change_subscription(stores, caller, id_, lambda s: s.rotate_secret(now, grace))


def replay(stores: Stores, caller: Caller, id_: str, *, since: datetime, now: datetime,
           limit: int = REPLAY_LIMIT) -> tuple[int, datetime | None]:
    """Deliver again, from the first attempt, every stored event since ``since`` the
    subscription wants. Answers how many, and where to continue when the limit was reached."""
    subscription = subscription_of(stores, caller, id_)
    if subscription.status != ACTIVE:
        raise WrongState(
            f"The subscription is {subscription.status}; enable it before a replay.")
    events = stores.events.since(since, limit)
    count = 0
    for event in events:
        if subscription.wants(event.type, event.county):
            count += _deliver_again(stores, subscription, event, now)
    more = events[-1].time if len(events) == limit else None
    return count, more


def _deliver_again(stores: Stores, subscription: Subscription, event: StoredEvent,
                   now: datetime) -> bool:
    fresh = delivery_for(subscription, event, now)
    if stores.deliveries.ensure(fresh):
        return True
    delivery = stores.deliveries.get(fresh.id)
    was = delivery.status
    return delivery.replay(now) and stores.deliveries.restart(delivery, was)


def delivery_for(subscription: Subscription, event: StoredEvent, next_attempt_at: datetime
                 ) -> Delivery:
    """The delivery of ``event`` to ``subscription`` (one id for the pair: written once)."""
    return Delivery(id=Delivery.id_for(subscription.id, event.id),
                    subscription_id=subscription.id, event_id=event.id, event_type=event.type,
                    subject=event.subject, seq=event.seq, event_time=event.time,
                    next_attempt_at=next_attempt_at)


def delivery_log(stores: Stores, caller: Caller, id_: str,
                 before: tuple[datetime, str] | None, limit: int) -> list[Attempt]:
    subscription_of(stores, caller, id_)
    return stores.attempts.page(id_, before, limit)
