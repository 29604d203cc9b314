"""What the dispatcher does: claim what is due, send it, record the answer, and sweep what is
past its retention."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifications.domain.circuit import Circuit
from services.notifications.domain.deliveries import CANCELLED, FAILED, Answer, Attempt, Delivery
from services.notifications.domain.feed import StoredEvent
from services.notifications.domain.retention import Retention
from services.notifications.domain.signing import signature_header
from services.notifications.domain.subscriptions import ACTIVE, Subscription
from services.notifications.handlers import Destinations, change_latest
from services.notifications.repository import Stores, Sweeper
from shared.events import encode

# url, headers, body, the addresses its host was checked at -> what came back
Send = Callable[[str, dict[str, str], bytes, Sequence[str]], Answer]
Clock = Callable[[], datetime]


class DueSubscriptions:
    """Which subscriptions a dispatcher's passes look at: those with due work, not every one
    ever created.

    A pass looks at the subscriptions marked (``Deliveries.marked``) in the buckets a writer may
    have marked since the last pass, those the last pass left with due work or skipped (busy,
    or their circuit open), and those with a lease run out. Any delivery falls due in the bucket
    it is marked in, so a subscription dropped because nothing of it was due is marked again in
    a bucket read before its next delivery falls due. Kept in memory: a dispatcher's first pass
    reads every marker; a pass that failed changes nothing, so the next reads the same buckets
    and more."""

    def __init__(self) -> None:
        self._carried: set[str] = set()
        self._since: int | None = None

    def look(self, stores: Stores, now: datetime) -> tuple[set[str], int]:
        """The subscriptions to look at now, and the bucket read through, for ``passed``."""
        marked, through = stores.deliveries.marked(now, since=self._since)
        return marked | self._carried, through

    def passed(self, carried: set[str], through: int) -> None:
        """A pass is done: look again at ``carried``, and at what was marked after ``through``."""
        self._carried, self._since = carried, through


def claim_due(stores: Stores, *, now: datetime, limit: int, lease: timedelta, holder: str,
              busy: dict[str, int], per_subscription: int,
              circuits: Mapping[str, Circuit] | None = None, turn: int = 0,
              due: DueSubscriptions | None = None) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries, fairly, in a few writes for all of them.

    Round robin over the subscriptions with due work (``due`` keeps which between passes; a
    new one reads every marker), starting at ``turn``: one delivery of each in turn, so no
    backlog takes the slots of another subscription. No subscription gets more
    than ``per_subscription`` in flight (``busy`` counts this worker's), nor more than its share
    of all the slots while others have due work; one whose circuit is open gets nothing, and
    its backlog is not read. A subject's deliveries to a subscription go one at a time, in the order
    received."""
    circuits = circuits or {}
    due = due or DueSubscriptions()
    slots = limit + sum(busy.values())
    queues: list[list[Delivery]] = []
    expired: dict[str, list[Delivery]] = {}
    for delivery in stores.deliveries.expired_leases(now):
        expired.setdefault(delivery.subscription_id, []).append(delivery)
    # Active or not: a stopped one's deliveries are claimed to be cancelled.
    looked_at, through = due.look(stores, now)
    carried: set[str] = set()
    rooms: dict[str, int] = {}
    for sub_id in sorted(looked_at | set(expired)):
        circuit = circuits.get(sub_id)
        room = per_subscription - busy.get(sub_id, 0)
        if room <= 0 or (circuit is not None and not circuit.allows()):
            carried.add(sub_id)
        else:
            rooms[sub_id] = room
    found = {sub_id: sorted(expired.get(sub_id, []) + due_now,
                            key=lambda d: (d.next_attempt_at, d.seq))
             for sub_id, due_now in stores.deliveries.due_of_each(rooms, now).items()
             if due_now or sub_id in expired}
    carried |= set(found)
    due.passed(carried, through)
    heads = stores.deliveries.heads_of(
        {sub_id: {d.subject for d in deliveries} for sub_id, deliveries in found.items()})
    waiting = []
    for sub_id, deliveries in found.items():
        ready = []
        for delivery in deliveries:
            head = heads[sub_id][delivery.subject]
            if head.seq < delivery.seq:
                # Wait behind the earlier event of the same subject; look again when it may be done.
                waiting.append((delivery, max(head.next_attempt_at, now) + timedelta(seconds=1)))
            else:
                ready.append(delivery)
        if ready:
            queues.append(ready[:rooms[sub_id]])
    stores.deliveries.defer_many(waiting)
    if not queues:
        return []
    # Rounded up: the slots left by a whole division go round too, the first in turn first.
    share = -(-slots // len(queues))
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
        change_latest(stores, lambda: stores.subscriptions.get(subscription.id),
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
