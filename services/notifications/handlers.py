"""What the notifications service does, one plain function per use: load, decide, save.

The stores are passed in (``repository.Stores`` on MongoDB, the fakes in unit tests); so are the
outside world's doors (DNS resolution, the HTTP POST) and the clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from services.notifications.domain.circuit import Circuit
from services.notifications.domain.deliveries import CANCELLED, FAILED, Answer, Attempt, Delivery
from services.notifications.domain.feed import FeedPosition, StoredEvent, merge_page
from services.notifications.domain.retention import Retention
from services.notifications.domain.rule_u import CITY_ONLY_TYPES, Caller, scope_of
from services.notifications.domain.signing import signature_header
from services.notifications.domain.subscriptions import (
    ACTIVE,
    InvalidSubscription,
    NotActive,
    Subscription,
)
from services.notifications.domain.url_safety import AllowList, destination_problem
from services.notifications.repository import StaleSubscription, Stores, Sweeper
from shared import divisions, idempotency
from shared.consumer import DUPLICATE, PROCESSED
from shared.domain import DomainError, NotPermitted, Unknown, WrongState
from shared.events import CATALOG, Event, encode

# The outside world, as the handlers see it.
Resolve = Callable[[str], list[str]]  # host -> addresses ([] when it does not resolve)
# url, headers, body, the addresses its host was checked at -> what came back
Send = Callable[[str, dict[str, str], bytes, Sequence[str]], Answer]
Clock = Callable[[], datetime]

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
            fingerprint=fingerprint)
    except InvalidSubscription as exc:
        if "counties" in exc.errors and scope_of(caller) is not None:
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
    added = stores.events.add_many(fresh, received=now)
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
              busy: dict[str, int], per_subscription: int,
              circuits: Mapping[str, Circuit] | None = None, turn: int = 0) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries, fairly, in a few writes for all of them.

    Round robin over the subscriptions with due work, starting at ``turn``: one delivery of each
    in turn, so no backlog takes the slots of another subscription. No subscription gets more
    than ``per_subscription`` in flight (``busy`` counts this worker's), nor more than its share
    of all the slots while others have due work; one whose circuit is open gets nothing, and
    its backlog is not read. A subject's deliveries to a subscription go one at a time, in the order
    received."""
    circuits = circuits or {}
    slots = limit + sum(busy.values())
    queues: list[list[Delivery]] = []
    # Every subscription, not only the active: a stopped one's deliveries are claimed to be
    # cancelled.
    subscription_ids = stores.subscriptions.ids()
    expired = stores.deliveries.expired_leases(now)
    for sub_id in subscription_ids:
        circuit = circuits.get(sub_id)
        room = per_subscription - busy.get(sub_id, 0)
        if room <= 0 or (circuit is not None and not circuit.allows()):
            continue
        due = sorted([d for d in expired if d.subscription_id == sub_id]
                     + stores.deliveries.due_of(sub_id, now, limit=room * 4),
                     key=lambda d: (d.next_attempt_at, d.seq))
        heads = stores.deliveries.heads_of(sub_id, {d.subject for d in due})
        ready, waiting = [], []
        for delivery in due:
            head = heads[delivery.subject]
            if head.seq < delivery.seq:
                # Wait behind the earlier event of the same subject; look again when it may be done.
                waiting.append((delivery, max(head.next_attempt_at, now) + timedelta(seconds=1)))
            else:
                ready.append(delivery)
        stores.deliveries.defer_many(waiting)
        if ready:
            queues.append(ready[:room])
    if not queues:
        return []
    share = max(1, slots // len(queues))
    start = turn % len(queues)
    queues = queues[start:] + queues[:start]
    picked: list[Delivery] = []
    for round_ in range(min(per_subscription, share)):
        for queue in queues:
            if (round_ < len(queue) and len(picked) < limit
                    and busy.get(queue[0].subscription_id, 0) + round_ < share):
                picked.append(queue[round_])
    return stores.deliveries.claim_many(picked, now, now + lease, holder)


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a claimed delivery came to, to be written with others in one go:
    the delivery as it stands after it, and the attempt for the log (None when there was
    nothing to send: the subscription stopped, the delivery is cancelled)."""

    delivery: Delivery
    attempt: Attempt | None


def attempt_delivery(stores: Stores, delivery: Delivery, *, holder: str, send: Send,
                     destinations: Destinations, schedule: Sequence[int],
                     clock: Clock) -> Attempt | None:
    """One attempt at a claimed delivery, written at once."""
    outcome = attempt(stores, delivery, send=send, destinations=destinations, schedule=schedule,
                      clock=clock)
    finish(stores, [outcome], holder=holder)
    return outcome.attempt


def attempt(stores: Stores, delivery: Delivery, *, send: Send, destinations: Destinations,
            schedule: Sequence[int], clock: Clock) -> Outcome:
    """Send a claimed delivery and say what came of it; ``finish`` writes it."""
    subscription = stores.subscriptions.get(delivery.subscription_id)
    if subscription is None or subscription.status != ACTIVE:
        delivery.status = CANCELLED
        return Outcome(delivery, None)
    event = stores.events.get(delivery.event_id)
    if event is None:
        # Held back (an endpoint down) beyond the events' retention: nothing left to send.
        delivery.status, delivery.last_error = FAILED, "the event is past its retention"
        return Outcome(delivery, None)
    answer = _send(subscription, event, send, destinations, clock())
    now = clock()
    delivery.record(answer, schedule, now)
    if answer.outcome == "gone":
        _change(stores, lambda: stores.subscriptions.get(subscription.id),
                lambda s: s.disable("the endpoint answered 410 Gone", now))
    return Outcome(delivery, Attempt(
        delivery_id=delivery.id, subscription_id=delivery.subscription_id,
        event_id=delivery.event_id, event_type=delivery.event_type, number=delivery.attempts,
        at=now, outcome=answer.outcome, status=answer.status, latency_ms=answer.latency_ms,
        error=answer.error,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None))


def finish(stores: Stores, outcomes: Sequence[Outcome], *, holder: str) -> None:
    """Write the outcomes of attempts: the deliveries (unless a lease was lost to another
    worker meanwhile), then the attempt log, one write each for all of them."""
    stores.deliveries.finish_many([o.delivery for o in outcomes], holder)
    stores.attempts.add_many([o.attempt for o in outcomes if o.attempt is not None])


def _send(subscription: Subscription, event: StoredEvent, send: Send,
          destinations: Destinations, now: datetime) -> Answer:
    # Checked again at every attempt: what a host name resolves to can change after subscribing;
    # the attempt connects to the addresses checked here.
    problem, addresses = destinations.check(subscription.url)
    if problem:
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
    return send(subscription.url, headers, body, addresses)


# --- retention ----------------------------------------------------------------------------------


def sweep(sweeper: Sweeper, retention: Retention, *, turn: str, now: datetime
          ) -> dict[str, int] | None:
    """Delete what is past its retention, if this worker takes the ``turn``; how many of each
    store went (None: another worker has the turn)."""
    if not sweeper.take_turn(turn, now):
        return None
    deleted = {store: sweeper.sweep(store, retention.first_kept_day(store, now))
               for store in Sweeper.STORES}
    sweeper.prune_logs(now)
    return deleted


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
