"""``python -m services.notifications.dispatcher``: the delivery workers.

The loop claims due deliveries under a lease, round robin over the subscriptions with due work,
and hands each to a thread pool, which sends it; the loop writes the answers of the attempts
that ended, all in one go, at its next pass. Bounded: DELIVERY_CONCURRENCY attempts at once
(default 16), at most DELIVERY_PER_SUBSCRIPTION (default 4) of them to one subscription and no
more than its share of the slots while others have due work, so one slow endpoint cannot hold
up the others; an endpoint that keeps giving no answer has its circuit opened
(domain/circuit.py) and is only probed until it answers. Everything but the circuits is in the
database (what is due, when the next attempt is), so any number of dispatchers may run, and a
restart loses nothing: a claim whose worker died returns to the queue when its lease
(DELIVERY_LEASE_SECONDS) runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pymongo.errors import PyMongoError

from services.notifications import SERVICE, bootstrap, delivering
from services.notifications.domain.circuit import Circuit
from services.notifications.domain.deliveries import FAILED, Attempt, Delivery
from services.notifications.domain.retention import Retention
from services.notifications.domain.subscriptions import ACTIVE
from services.notifications.metrics import (
    GAUGES_LEASE,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERY_LAG,
    WEBHOOK_FAILED,
    WEBHOOK_LATENCY,
    clear_delivery_gauges,
    set_delivery_gauges,
)
from services.notifications.outbound import Sender, connects
from services.notifications.repository import Sweeper
from shared import gauges, process
from shared.clock import now as _now
from shared.config import Settings

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, settings: Settings, *, concurrency: int = 16, per_subscription: int = 4,
                 lease_seconds: float = 60.0, idle_seconds: float = 0.1,
                 send: delivering.Send | None = None):
        self.settings = settings
        notifications = bootstrap.build(settings)
        self.db = notifications.db
        self.stores = notifications.stores
        self.sweeper = Sweeper(notifications.db)
        self.retention = Retention.of(
            event_days=settings.notifications_event_retention_days,
            attempt_days=settings.notifications_attempt_retention_days,
            claim_days=settings.delivery_claim_retention_days,
            retry_schedule=settings.webhook_retry_schedule)
        self.destinations = notifications.destinations
        self.send = send or Sender(settings.webhook_timeout_seconds)
        self.concurrency = concurrency
        self.per_subscription = per_subscription
        # Longer than one attempt can take, so a live worker never loses its claim.
        self.lease = timedelta(seconds=max(lease_seconds, settings.webhook_timeout_seconds * 2))
        self.idle_seconds = idle_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._busy: dict[str, int] = {}
        # Per dispatcher: each learns for itself which endpoints are down.
        self.circuits: dict[str, Circuit] = {}
        self.due = delivering.DueSubscriptions()
        self._done: list[tuple[Delivery, delivering.Outcome | None]] = []
        self._ended = threading.Event()
        self._turn = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, settings: Settings) -> Dispatcher:
        return cls(settings,
                   concurrency=settings.delivery_concurrency,
                   per_subscription=settings.delivery_per_subscription,
                   lease_seconds=settings.delivery_lease_seconds)

    def run(self, stop: threading.Event) -> None:
        log.info("dispatcher started", extra={"holder": self.holder,
                                              "concurrency": self.concurrency})
        sweeping = threading.Thread(target=self.sweep_every, args=(stop,), daemon=True,
                                    name="retention")
        sweeping.start()
        backoff = 0.5
        # Leaving the block waits for the attempts in flight (each at most the HTTP timeout).
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="delivery") as pool:
            while not stop.is_set():
                try:
                    self.finish()
                    claimed = self.claim()
                    backoff = 0.5
                except PyMongoError as exc:
                    log.warning("could not claim deliveries; retrying",
                                extra={"error": f"{type(exc).__name__}: {exc}"})
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                for sub_id in self.due_probes():
                    pool.submit(self.probe, sub_id)
                for delivery in claimed:
                    pool.submit(self.attempt, delivery)
                if not claimed:
                    self._ended.wait(self.idle_seconds)
        self.finish()
        log.info("dispatcher stopped", extra={"holder": self.holder})

    def sweep_every(self, stop: threading.Event) -> None:
        """Every NOTIFICATIONS_SWEEP_SECONDS, take the turn to sweep what is past its retention
        (one dispatcher of several takes each turn)."""
        interval = self.settings.notifications_sweep_seconds
        while not stop.is_set():
            now = _now()
            try:
                deleted = delivering.sweep(self.sweeper, self.retention,
                                         turn=f"sweep:{int(now.timestamp() // interval)}",
                                         now=now)
                if deleted is not None:
                    log.info("retention sweep", extra={"deleted": deleted})
            except PyMongoError as exc:
                log.warning("retention sweep failed; trying at the next turn",
                            extra={"error": f"{type(exc).__name__}: {exc}"})
            stop.wait(interval - now.timestamp() % interval)

    def claim(self) -> list[Delivery]:
        """One pass: claim what this worker has room for."""
        now = _now()
        with self._lock:
            free = self.concurrency - sum(self._busy.values())
            busy = dict(self._busy)
        if free <= 0:
            return []
        self._turn += 1
        claimed = delivering.claim_due(self.stores, now=now, limit=free, lease=self.lease,
                                     holder=self.holder, busy=busy,
                                     per_subscription=self.per_subscription,
                                     circuits=self.circuits, turn=self._turn, due=self.due)
        with self._lock:
            for delivery in claimed:
                self._busy[delivery.subscription_id] = (
                    self._busy.get(delivery.subscription_id, 0) + 1)
        return claimed

    def due_probes(self) -> list[str]:
        """The subscriptions whose open circuit is to be probed now (each marked as probing)."""
        now = _now()
        with self._lock:
            due = [sub_id for sub_id, c in self.circuits.items() if c.probe_due(now)]
            for sub_id in due:
                self.circuits[sub_id].probing = True
        return due

    def probe(self, sub_id: str) -> None:
        """Try a bare connection to the subscription's endpoint (in a pool thread), at the
        addresses its host is checked at now; the circuit learns the answer."""
        connected = True  # a stopped or refused subscription: let its claims settle it
        try:
            subscription = self.stores.subscriptions.get(sub_id)
            if subscription is not None and subscription.status == ACTIVE:
                problem, addresses = self.destinations.check(subscription.url)
                if not problem:
                    connected = connects(subscription.url, addresses,
                                         self.settings.webhook_timeout_seconds)
        except Exception:  # noqa: BLE001 — probed again after the next cool-down
            log.exception("probe failed", extra={"subscription": sub_id})
            connected = False
        with self._lock:
            self.circuits[sub_id].probed(connected, _now())

    def finish(self) -> None:
        """Write what the attempts that ended came to, in one go, and free their slots."""
        with self._lock:
            ended = list(self._done)
            self._ended.clear()
        outcomes = [outcome for _, outcome in ended if outcome is not None]
        delivering.finish(self.stores, outcomes, holder=self.holder)
        now = _now()
        with self._lock:
            del self._done[:len(ended)]  # kept until written: a failed write is tried again
            for delivery, outcome in ended:
                sub_id = delivery.subscription_id
                self.circuits.setdefault(sub_id, Circuit()).answered(
                    outcome is not None and (outcome.attempt is None
                                             or outcome.attempt.outcome != "no_answer"), now)
                left = self._busy.get(sub_id, 1) - 1
                if left:
                    self._busy[sub_id] = left
                else:
                    self._busy.pop(sub_id, None)
        for outcome in outcomes:
            if outcome.attempt is not None:
                _observe(outcome.delivery, outcome.attempt)

    def attempt(self, delivery: Delivery) -> None:
        """Send one claimed delivery (in a pool thread); its outcome is written by ``finish``."""
        outcome = None
        try:
            outcome = delivering.attempt(
                self.stores, delivery, send=self.send, destinations=self.destinations,
                schedule=self.settings.webhook_retry_schedule, clock=_now)
        except Exception:  # noqa: BLE001 — the lease runs out and the delivery is tried again
            log.exception("delivery attempt failed", extra={"delivery": delivery.id})
        finally:
            with self._lock:
                self._done.append((delivery, outcome))
            self._ended.set()


def _observe(delivery: Delivery, attempt: Attempt) -> None:
    WEBHOOK_ATTEMPTS.labels(attempt.outcome).inc()
    if attempt.outcome != "refused":
        WEBHOOK_LATENCY.observe(attempt.latency_ms / 1000)
    if attempt.outcome == "success":
        WEBHOOK_DELIVERY_LAG.observe(max((attempt.at - delivery.event_time).total_seconds(), 0))
    elif delivery.status == FAILED:
        WEBHOOK_FAILED.inc()
    log.info("webhook attempt", extra={
        "delivery": delivery.id, "attempt": attempt.number, "outcome": attempt.outcome,
        "status": attempt.status, "latency_ms": attempt.latency_ms})


def main() -> None:
    settings = process.start(f"{SERVICE}-dispatcher")
    stop = process.stop_on_signals()
    dispatcher = Dispatcher.from_env(settings)
    # Deliveries by state, counted every DATABASE_GAUGES_SECONDS by the dispatcher holding the
    # gauges' lease.
    gauges.start_reporting(
        dispatcher.db, GAUGES_LEASE,
        lambda: set_delivery_gauges(dispatcher.stores.deliveries.counts(_now())),
        clear_delivery_gauges, stop, settings.database_gauges_seconds)
    dispatcher.run(stop)


if __name__ == "__main__":
    main()
