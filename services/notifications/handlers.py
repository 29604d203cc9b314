"""What the notifications service does, one plain function per use: load, decide, save.

The stores are passed in (``repository.Stores`` on MongoDB, the fakes in unit tests); so are the
outside world's doors (DNS resolution, the HTTP POST) and the clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from services.notifications.domain.model import (
    ACTIVE,
    CANCELLED,
    CITY_ONLY_TYPES,
    AllowList,
    Answer,
    Attempt,
    Caller,
    Delivery,
    FeedPosition,
    InvalidSubscription,
    NotActive,
    StoredEvent,
    Subscription,
    destination_problem,
    merge_page,
    scope_of,
    signature_header,
)
from services.notifications.repository import StaleSubscription, Stores
from shared import idempotency
from shared.consumer import DUPLICATE, PROCESSED
from shared.counties import COUNTIES
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events import CATALOG, Event, encode

# The outside world, as the handlers see it.
Resolve = Callable[[str], list[str]]  # host -> addresses ([] when it does not resolve)
Send = Callable[[str, dict[str, str], bytes], Answer]  # url, headers, body -> what came back
Clock = Callable[[], datetime]

REPLAY_LIMIT = 10_000  # events re-delivered by one replay call; the answer says where to go on


@dataclass(frozen=True)
class Destinations:
    """Where webhooks may go: the resolver and the operator's allow-list."""

    resolve: Resolve
    allowed: AllowList

    def problem(self, url: str) -> str | None:
        host = urlsplit(url).hostname
        return destination_problem(url, self.resolve(host) if host else [], self.allowed)


# --- subscriptions ------------------------------------------------------------------------------


def create_subscription(stores: Stores, caller: Caller, body: dict, *, key: str | None,
                        destinations: Destinations, now: datetime) -> tuple[Subscription, bool]:
    """The new subscription and True; or, for a retried Idempotency-Key, the first one and False."""
    fingerprint = idempotency.fingerprint(body) if key else None
    id_ = idempotency.derived_id("subscription", caller.sub, key) if key else str(uuid.uuid4())
    if key and (first := stores.subscriptions.get(id_)) is not None:
        return _same_request(first, fingerprint), False
    if problem := destinations.problem(body["url"]):
        raise Unprocessable(problem, errors={"url": [problem]})
    try:
        subscription = Subscription.create(
            id=id_, caller=caller, url=body["url"], event_types=body["event_types"],
            counties=body["counties"], known_types=CATALOG, known_counties=COUNTIES, now=now,
            fingerprint=fingerprint)
    except InvalidSubscription as exc:
        if "counties" in exc.errors and scope_of(caller) is not None:
            raise Forbidden(str(exc), errors=exc.errors) from exc
        raise Unprocessable(str(exc), errors=exc.errors) from exc
    if not stores.subscriptions.add(subscription):  # a concurrent retry with the same key won
        return _same_request(stores.subscriptions.get(id_), fingerprint), False
    return subscription, True


def _same_request(first: Subscription, fingerprint: str | None) -> Subscription:
    if first.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used with another request body.")
    return first


def subscription_of(stores: Stores, caller: Caller, id_: str) -> Subscription:
    """The subscription, if the caller may see it; 404 otherwise (its existence is not told)."""
    subscription = stores.subscriptions.get(id_)
    if subscription is None or not subscription.owned_by(caller):
        raise NotFound(f"No subscription {id_}.")
    return subscription


def list_subscriptions(stores: Stores, caller: Caller, after: str | None,
                       limit: int) -> list[Subscription]:
    """The caller's own subscriptions; the city sees every one."""
    owner = None if caller.role == "city_admin" else caller.sub
    return stores.subscriptions.page(owner, after, limit)


def change_subscription(stores: Stores, caller: Caller, id_: str,
                        change: Callable[[Subscription], object]) -> tuple[Subscription, object]:
    """Apply ``change`` for the caller; answers the subscription and what ``change`` returned."""
    return _change(stores, lambda: subscription_of(stores, caller, id_), change)


def _change(stores: Stores, load: Callable[[], Subscription],
            change: Callable[[Subscription], object]) -> tuple[Subscription, object]:
    """Apply ``change`` to the latest version, again if somebody changed it meanwhile."""
    while True:
        subscription = load()
        try:
            outcome = change(subscription)
        except NotActive as exc:
            raise Conflict(f"The subscription cannot do that: {exc}.") from exc
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
        raise Conflict(f"The subscription is {subscription.status}; enable it before a replay.")
    events = stores.events.since(since, limit)
    count = 0
    for event in events:
        if subscription.wants(event.type, event.county):
            count += _deliver_again(stores, subscription, event, now)
    more = events[-1].time if len(events) == limit else None
    return count, more


def _deliver_again(stores: Stores, subscription: Subscription, event: StoredEvent,
                   now: datetime) -> bool:
    fresh = _delivery(subscription, event, now)
    if stores.deliveries.ensure(fresh):
        return True
    delivery = stores.deliveries.get(fresh.id)
    was = delivery.status
    return delivery.replay(now) and stores.deliveries.restart(delivery, was)


def _delivery(subscription: Subscription, event: StoredEvent, next_attempt_at: datetime
              ) -> Delivery:
    return Delivery(id=Delivery.id_for(subscription.id, event.id),
                    subscription_id=subscription.id, event_id=event.id, event_type=event.type,
                    subject=event.subject, seq=event.seq, event_time=event.time,
                    next_attempt_at=next_attempt_at)


def delivery_log(stores: Stores, caller: Caller, id_: str,
                 before: tuple[datetime, str] | None, limit: int) -> list[Attempt]:
    subscription_of(stores, caller, id_)
    return stores.attempts.page(id_, before, limit)


# --- the consumer: store each event once, and what is due to whom -------------------------------


def record_events(stores: Stores, batch: Sequence[tuple[Event, tuple[str, int, int]]], *,
                  schedule: Sequence[int], now: datetime) -> list[str]:
    """Keep each event in the store and a pending delivery for each subscription that wants it;
    answer PROCESSED or DUPLICATE for each, in order.

    A few writes for the whole batch, not a few per event: on FerretDB every write is a
    PostgreSQL commit, and a batch of inserts is one. Both writes are idempotent (an event by
    its id, a delivery by subscription and event), so a redelivered record, even one whose batch
    stopped half-way last time, completes what is missing.
    """
    first_seq = stores.events.reserve_seqs(len(batch))
    fresh = [StoredEvent(id=event.id, type=event.type, county=event.county,
                         subject=event.subject, time=event.time, seq=first_seq + n,
                         partition=f"{topic}:{partition}", offset=offset, envelope=event.raw)
             for n, (event, (topic, partition, offset)) in enumerate(batch)]
    added = stores.events.add_many(fresh)
    outcomes, stored = [], []
    for event, new in zip(fresh, added, strict=True):
        outcomes.append(PROCESSED if new else DUPLICATE)
        # Seen before: its first copy and place stand.
        stored.append(event if new else stores.events.get(event.id))
    first_attempt = now + timedelta(seconds=schedule[0])
    subscriptions = stores.subscriptions.active()
    stores.deliveries.ensure_many([_delivery(subscription, event, first_attempt)
                                   for event in stored for subscription in subscriptions
                                   if subscription.wants(event.type, event.county)])
    return outcomes


# --- the dispatcher: claim what is due, send it, record the answer ------------------------------


def claim_due(stores: Stores, *, now: datetime, limit: int, lease: timedelta, holder: str,
              busy: dict[str, int], per_subscription: int) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries, fairly: no subscription gets more than
    ``per_subscription`` in flight (``busy`` counts this worker's), and a subject's deliveries
    to a subscription go one at a time, in the order received."""
    full = [s for s, n in busy.items() if n >= per_subscription]
    claimed: list[Delivery] = []
    taken: dict[str, int] = {}
    due = stores.deliveries.due(now, limit=limit * 4, skip_subscriptions=full)
    heads = stores.deliveries.heads(due)
    for delivery in due:
        sub_id = delivery.subscription_id
        if busy.get(sub_id, 0) + taken.get(sub_id, 0) >= per_subscription:
            continue
        head = heads[(sub_id, delivery.subject)]
        if head.seq < delivery.seq:
            # Wait behind the earlier event of the same subject; look again when it may be done.
            later = max(head.next_attempt_at, now) + timedelta(seconds=1)
            stores.deliveries.defer(delivery, later)
            continue
        if (mine := stores.deliveries.claim(delivery, now, now + lease, holder)) is not None:
            claimed.append(mine)
            taken[sub_id] = taken.get(sub_id, 0) + 1
            if len(claimed) >= limit:
                break
    return claimed


def attempt_delivery(stores: Stores, delivery: Delivery, *, holder: str, send: Send,
                     destinations: Destinations, schedule: Sequence[int],
                     clock: Clock) -> Attempt | None:
    """One attempt at a claimed delivery. None when there was nothing to send (the subscription
    stopped: the delivery is cancelled)."""
    subscription = stores.subscriptions.get(delivery.subscription_id)
    if subscription is None or subscription.status != ACTIVE:
        delivery.status = CANCELLED
        stores.deliveries.finish_attempt(delivery, holder)
        return None
    event = stores.events.get(delivery.event_id)
    answer = _send(subscription, event, send, destinations, clock())
    now = clock()
    delivery.record(answer, schedule, now)
    if answer.outcome == "gone":
        _change(stores, lambda: stores.subscriptions.get(subscription.id),
                lambda s: s.disable("the endpoint answered 410 Gone", now))
    stores.deliveries.finish_attempt(delivery, holder)
    attempt = Attempt(
        delivery_id=delivery.id, subscription_id=delivery.subscription_id,
        event_id=delivery.event_id, event_type=delivery.event_type, number=delivery.attempts,
        at=now, outcome=answer.outcome, status=answer.status, latency_ms=answer.latency_ms,
        error=answer.error,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None)
    stores.attempts.add(attempt)
    return attempt


def _send(subscription: Subscription, event: StoredEvent, send: Send,
          destinations: Destinations, now: datetime) -> Answer:
    # Checked again at every attempt: what a host name resolves to can change after subscribing.
    if problem := destinations.problem(subscription.url):
        return Answer(None, 0.0, f"refused: {problem}")
    body = encode(event.envelope)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            subscription.signing_secrets(now), event.id, timestamp, body),
    }
    return send(subscription.url, headers, body)


# --- the pull feed ------------------------------------------------------------------------------


def feed_page(stores: Stores, caller: Caller, position: FeedPosition,
              types: Collection[str] | None, limit: int) -> list[StoredEvent]:
    """The caller's next events after ``position`` (advanced past them), rule U applied."""
    scope = scope_of(caller)
    if scope is not None and types is not None:
        types = set(types) - CITY_ONLY_TYPES
    candidates = [stores.events.after(p, position.after(p), scope=scope, types=types, limit=limit)
                  for p in stores.events.partitions()]
    page = merge_page(candidates, limit)
    position.advance(page)
    return page


def wait_for_feed(stores: Stores, caller: Caller, position: FeedPosition,
                  types: Collection[str] | None, limit: int, *, wait: float,
                  pause: Callable[[float], None] = time.sleep) -> list[StoredEvent]:
    """``feed_page``, long-polled: ask again until an event comes or ``wait`` seconds passed."""
    deadline = time.monotonic() + wait
    interval = 0.1
    while True:
        page = feed_page(stores, caller, position, types, limit)
        left = deadline - time.monotonic()
        if page or left <= 0:
            return page
        pause(min(interval, left))
        interval = min(interval * 2, 1.0)
