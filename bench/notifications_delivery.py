"""Webhook delivery on this machine, through the real pipeline (Kafka → consumer → event
store → dispatcher → signed POST).

Throughput: deliveries per second to a fast local receiver, and the delay from an event's time
to its arrival there (p50, p99):

    python -m bench.notifications_delivery --events 2000 --subscriptions 4

Fairness: a healthy subscription's webhooks at a steady rate (``--rate`` events a second for
``--seconds``), their delay p50/p99 first alone, then beside ``--dead`` subscriptions whose
endpoints refuse connections, holding ``--dead-due`` deliveries due for retry between them; the
ratio of the two p99s:

    python -m bench.notifications_delivery --fairness --rate 10 --seconds 30

Each run uses its own databases and topics (prefix ``bench<random>``) and removes the databases
after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import statistics
import threading
import time
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.notifications import recording
from services.notifications.consumer import SERVICE, handlers_for
from services.notifications.dispatcher import Dispatcher
from services.notifications.domain.deliveries import Delivery
from services.notifications.domain.subscriptions import Subscription
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.domain import Caller
from shared.events import ISSUES_TOPIC, TOPICS, encode, new_event, parse, record_key
from shared.kafka import ensure_topics, producer


class Receiver:
    """Answers 204 at once and notes when each webhook arrived."""

    def __init__(self):
        self.arrivals: list[tuple[float, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.arrivals.append((time.time(), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


CITY = Caller("bench", "city_admin")


def _event(n: int, county: str = "330602") -> dict:
    at = datetime.now(UTC)
    item = {"id": f"bench-{county}-{n}", "county": county, "township": "灵芝镇",
            "village": "张市村", "problem": "问题", "measure": "措施",
            "deadline": date(2026, 6, 30), "status": "open", "reopen_count": 0, "version": 1,
            "created_at": at, "updated_at": at}
    return new_event("issue.created", subject=item["id"], county=county,
                     data={"item": item}, itemversion=1)


def _subscribe(stores: Stores, id_: str, url: str, county: str) -> None:
    stores.subscriptions.add(Subscription.create(
        id=id_, caller=CITY, url=url, event_types=["*"], counties=[county], known_types=[],
        known_counties=[county], now=datetime.now(UTC)))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentiles(values: list[float]) -> tuple[int | None, int | None]:
    if not values:
        return None, None  # nothing arrived in time
    cut = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
    return round(cut[49] * 1000), round(cut[98] * 1000)


def fairness(settings: Settings, *, rate: float, seconds: float, dead: int, dead_due: int,
             concurrency: int, per_subscription: int) -> dict:
    """The healthy subscription's webhook delay at ``rate`` events a second, beside ``dead``
    subscriptions holding ``dead_due`` due retries between them (none when ``dead`` is 0)."""
    ensure_topics(settings, partitions=3)
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    stores = Stores.on(db)
    receiver = Receiver()
    _subscribe(stores, "healthy", receiver.url, "330602")
    dead_ids = [f"dead-{n}" for n in range(dead)]
    refused = f"http://127.0.0.1:{_closed_port()}/hook"
    if dead:
        # The backlog's events are stored first, then each is due to every dead subscription:
        # dead_due deliveries in all, each attempted once already and due again now.
        backlog = [(parse(encode(_event(n, "330603"))), ("backlog", 0, n))
                   for n in range(dead_due // dead)]
        recording.record_events(stores, backlog, schedule=settings.webhook_retry_schedule,
                               now=datetime.now(UTC))
        now = datetime.now(UTC)
        retries = [Delivery(id=Delivery.id_for(id_, event.id), subscription_id=id_,
                            event_id=event.id, event_type=event.type, subject=event.subject,
                            seq=n, event_time=event.time, next_attempt_at=now, attempts=1,
                            last_error="refused")
                   for id_ in dead_ids for n, (event, _) in enumerate(backlog)]
        for start in range(0, len(retries), 1000):
            stores.deliveries.ensure_many(retries[start:start + 1000])
    for id_ in dead_ids:
        _subscribe(stores, id_, refused, "330603")
    due = db.deliveries.count_documents({"status": "pending"})
    # The group of this run's own topic prefix: a group shared with another run on the broker
    # rebalances at every join of the other's consumers and holds this one's events up.
    runner = ConsumerRunner(SERVICE, settings, handlers_for(settings),
                            topics=tuple(settings.topic(t) for t in TOPICS))
    stop = threading.Event()
    dispatcher = Dispatcher(settings, concurrency=concurrency, per_subscription=per_subscription)
    threads = [threading.Thread(target=runner.run, daemon=True),
               threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    kafka = producer(settings, "bench")
    time.sleep(5)  # the consumer joins its group before the first event is timed
    # A dispatcher that has run a while beside dead endpoints has their circuits open: wait for
    # that state (a restarted dispatcher goes through it again), and say how long it took.
    warming = time.perf_counter()
    while (not all(i in dispatcher.circuits and dispatcher.circuits[i].is_open for i in dead_ids)
           and time.perf_counter() - warming < 600):
        time.sleep(0.5)
    warm_up = round(time.perf_counter() - warming, 1)
    events = int(rate * seconds)
    started = time.perf_counter()
    for n in range(events):
        time.sleep(max(started + n / rate - time.perf_counter(), 0))
        envelope = _event(n)
        kafka.send(settings.topic(ISSUES_TOPIC), key=record_key(envelope), value=encode(envelope))
        kafka.flush()
    while len(receiver.arrivals) < events and time.perf_counter() - started < seconds + 300:
        time.sleep(0.05)
    runner.stop.set()
    stop.set()
    for thread in threads:
        thread.join(60)
    kafka.close()
    receiver.server.shutdown()
    lags = sorted(at - datetime.fromisoformat(json.loads(body)["time"]).timestamp()
                  for at, body in receiver.arrivals)
    p50, p99 = _percentiles(lags)
    dead_attempts = db.attempts.count_documents({"subscription_id": {"$in": dead_ids}})
    # Where the delay went: event time → stored as due (Kafka and the consumer), and stored as
    # due → answered (the dispatcher: its passes, the claim, the POST).
    stages = [(d["event_time"], d["next_attempt_at"], d["delivered_at"])
              for d in db.deliveries.find({"subscription_id": "healthy", "status": "delivered"})]
    stored = _percentiles(sorted((due - at).total_seconds() for at, due, _ in stages))
    sent = _percentiles(sorted((done - due).total_seconds() for _, due, done in stages))
    return {"dead_subscriptions": dead, "due_at_start": due, "circuits_open_after_s": warm_up,
            "events": events,
            "delivered": len(receiver.arrivals), "lag_p50_ms": p50, "lag_p99_ms": p99,
            "stored_p50_p99_ms": stored, "sent_p50_p99_ms": sent,
            "attempts_to_dead": dead_attempts,
            "dead_failed": db.deliveries.count_documents({"status": "failed"})}


def run(settings: Settings, events: int, subscriptions: int, concurrency: int) -> dict:
    ensure_topics(settings, partitions=3)
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    stores = Stores.on(db)
    receiver = Receiver()
    for n in range(subscriptions):
        stores.subscriptions.add(Subscription.create(
            id=f"bench-{n}", caller=CITY, url=receiver.url, event_types=["*"], counties=["*"],
            known_types=[], known_counties=[], now=datetime.now(UTC)))
    runner = ConsumerRunner(SERVICE, settings, handlers_for(settings),
                            topics=tuple(settings.topic(t) for t in TOPICS))
    stop = threading.Event()
    dispatcher = Dispatcher(settings, concurrency=concurrency, per_subscription=concurrency,
                            idle_seconds=0.02)
    threads = [threading.Thread(target=runner.run, daemon=True),
               threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    kafka = producer(settings, "bench")
    expected = events * subscriptions
    started = time.perf_counter()
    for n in range(events):
        envelope = _event(n)
        kafka.send(settings.topic(ISSUES_TOPIC), key=record_key(envelope), value=encode(envelope))
    kafka.flush()
    while len(receiver.arrivals) < expected and time.perf_counter() - started < 600:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    runner.stop.set()
    stop.set()
    for thread in threads:
        thread.join(30)
    kafka.close()
    receiver.server.shutdown()
    lags = sorted(at - datetime.fromisoformat(json.loads(body)["time"]).timestamp()
                  for at, body in receiver.arrivals)
    p50, p99 = _percentiles(lags)
    return {"events": events, "subscriptions": subscriptions, "concurrency": concurrency,
            "delivered": len(receiver.arrivals), "seconds": round(elapsed, 2),
            "deliveries_per_second": round(len(receiver.arrivals) / elapsed),
            "lag_p50_ms": p50, "lag_p99_ms": p99}


def _scoped(base: Settings) -> Settings:
    run_id = uuid.uuid4().hex[:8]
    return dataclasses.replace(base, database_prefix=f"bench{run_id}",
                               topic_prefix=f"bench{run_id}.",
                               webhook_allowed_hosts=("127.0.0.1",))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications_delivery",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--fairness", action="store_true")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--dead", type=int, default=10)
    parser.add_argument("--dead-due", type=int, default=10_000)
    parser.add_argument("--per-subscription", type=int, default=4)
    args = parser.parse_args(argv)
    base = Settings.from_env()
    if not args.fairness:
        settings = _scoped(base)
        try:
            print(json.dumps(run(settings, args.events, args.subscriptions, args.concurrency)))
        finally:
            mongo.client(settings.mongodb_uri).drop_database(settings.database_name(SERVICE))
        return
    results = []
    for dead in (0, args.dead):
        settings = _scoped(base)
        try:
            results.append(fairness(settings, rate=args.rate, seconds=args.seconds, dead=dead,
                                    dead_due=args.dead_due, concurrency=args.concurrency,
                                    per_subscription=args.per_subscription))
        finally:
            mongo.client(settings.mongodb_uri).drop_database(settings.database_name(SERVICE))
        print(json.dumps(results[-1]), flush=True)
    alone, beside = results
    if beside["lag_p99_ms"] is not None and alone["lag_p99_ms"] is not None:
        print(json.dumps({"p99_ratio_beside_dead_to_alone":
                          round(beside["lag_p99_ms"] / max(alone["lag_p99_ms"], 1), 2)}))


if __name__ == "__main__":
    main()
