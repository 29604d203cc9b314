"""Webhook delivery on this machine: deliveries per second to a fast local receiver, and the
delay from an event's time to its arrival there (p50, p99), through the real pipeline
(Kafka → consumer → event store → dispatcher → signed POST).

    python -m bench.notifications_delivery --events 2000 --subscriptions 4

Uses its own databases and topics (prefix ``bench<random>``) and removes the databases after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.notifications.consumer import SERVICE, handlers_for
from services.notifications.dispatcher import Dispatcher
from services.notifications.domain.model import Subscription
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.events import ISSUES_TOPIC, TOPICS, encode, new_event, record_key
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


@dataclasses.dataclass(frozen=True)
class _City:
    sub: str = "bench"
    role: str = "city_admin"
    county: str | None = None


def _event(n: int) -> dict:
    at = datetime.now(UTC)
    item = {"id": f"bench-{n}", "county": "330602", "township": "灵芝镇", "village": "张市村",
            "problem": "问题", "measure": "措施", "deadline": date(2026, 6, 30), "status": "open",
            "reopen_count": 0, "version": 1, "created_at": at, "updated_at": at}
    return new_event("issue.created", subject=item["id"], county="330602",
                     data={"item": item}, itemversion=1)


def run(settings: Settings, events: int, subscriptions: int, concurrency: int) -> dict:
    ensure_topics(settings, partitions=3)
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    stores = Stores.on(db)
    receiver = Receiver()
    for n in range(subscriptions):
        stores.subscriptions.add(Subscription.create(
            id=f"bench-{n}", caller=_City(), url=receiver.url, event_types=["*"], counties=["*"],
            known_types=[], known_counties=[], now=datetime.now(UTC)))
    runner = ConsumerRunner(SERVICE, settings, handlers_for(settings),
                            topics=tuple(settings.topic(t) for t in TOPICS), group_id="bench")
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
    cut = statistics.quantiles(lags, n=100) if len(lags) > 1 else lags * 99
    return {"events": events, "subscriptions": subscriptions, "concurrency": concurrency,
            "delivered": len(receiver.arrivals), "seconds": round(elapsed, 2),
            "deliveries_per_second": round(len(receiver.arrivals) / elapsed),
            "lag_p50_ms": round(cut[49] * 1000), "lag_p99_ms": round(cut[98] * 1000)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications_delivery",
                                     description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    base = Settings.from_env()
    run_id = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(base, database_prefix=f"bench{run_id}",
                                   topic_prefix=f"bench{run_id}.",
                                   webhook_allowed_hosts=("127.0.0.1",))
    try:
        print(json.dumps(run(settings, args.events, args.subscriptions, args.concurrency)))
    finally:
        mongo.client(settings.mongodb_uri).drop_database(settings.database_name(SERVICE))


if __name__ == "__main__":
    main()
