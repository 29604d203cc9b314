"""Throughput of the event backbone on this machine, beside the raw limits of the same broker
and database: outbox relay (events/s published and confirmed), consumer runner (events/s
applied exactly once through the change log, one at a time and a poll at once), the issues
figures' fold (item events/s folded into the kept figures, services/issues/figures.py),
kafka-python produce-then-consume, pymongo inserts and updates.

    make bench-backbone            # or: python -m bench.backbone --events 20000

Uses its own databases and topics (prefix ``bench<random>``) and removes the databases after.
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer

from services.issues import SERVICE as ISSUES
from services.issues.domain import figures
from services.issues.domain.model import IN_PROGRESS, Item, local_date
from services.issues.figures import Folder
from services.issues.handlers import envelopes
from services.issues.repository import MongoFigures
from services.issues.repository import ensure_indexes as ensure_issues_indexes
from shared import divisions, mongo
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.domain import Caller
from shared.events import CATALOG, INSPECTIONS_TOPIC, ISSUES_TOPIC, encode, record_key
from shared.kafka import ensure_topics, producer
from shared.outbox import Relay
from tests.integration.shared import probe


def timed(label: str, count: int, work) -> dict:
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    return {"what": label, "count": count, "seconds": round(elapsed, 2),
            "per_second": round(count / elapsed)}


def relay_rate(settings: Settings, events: int, per_doc: int) -> dict:
    probe.seed(settings, events // per_doc, per_doc)
    db = mongo.database(settings, probe.SERVICE)
    relay = Relay(db, producer(settings, "bench-relay"), probe.SERVICE, settings, batch_size=500)

    def drain():
        while db.sources.count_documents({"outbox_pending": True}, limit=1):
            relay.publish_pending()

    return timed(f"outbox relay ({per_doc} events a document)", events, drain)


def consumer_rate(settings: Settings, events: int, *, batched: bool) -> dict:
    """The relay's events applied by a group of their own: every tally starts again at 0."""
    tallies = mongo.database(settings, probe.SERVICE).tallies
    group = "bench-batched" if batched else "bench"
    if batched:  # fresh tallies for the same events, read again by a group of its own
        db = mongo.database(settings, probe.SERVICE)
        ids = [doc["_id"] for doc in tallies.find({}, {"_id": 1})]
        db.drop_collection("tallies")
        db.drop_collection("tally_changes")
        log = probe.tallies(settings)
        log.ensure_indexes()
        log.record_new(({"_id": i, "version": 1, "applied": 0, "order": [], "seen": []}, [])
                       for i in ids)
    runner = ConsumerRunner(probe.SERVICE, settings, probe.handlers_for(settings),
                            topics=(settings.topic(INSPECTIONS_TOPIC),), group_id=group,
                            batch_handler=probe.batch_handler_for(settings) if batched else None)

    def apply_all():
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        # Poll the database lightly: the benchmark must not compete with what it measures.
        total = [{"$group": {"_id": None, "applied": {"$sum": "$applied"}}}]
        while next(tallies.aggregate(total), {"applied": 0})["applied"] < events:
            time.sleep(0.5)
        runner.stop.set()
        thread.join(30)

    how = "a poll at once" if batched else "one at a time"
    return timed(f"consumer runner ({how}, through the change log)", events, apply_all)


def item_events(settings: Settings, count: int) -> list[dict]:
    """``count`` events of the issues topic: items of the region's counties created, then each
    started (open → in_progress), as the issues service publishes them."""
    counties, city = list(divisions.of(settings).counties), Caller("bench", "city_admin")
    at = datetime.now(UTC)
    today = local_date(at)
    envelopes_: list[dict] = []
    for n in range(count // 2):
        item, created = Item.create(
            id=f"bench-item-{n}", actor=city, at=at, county=counties[n % len(counties)],
            township="灵芝镇", village="张市村", problem="党员活动日未正常开展",
            measure="每月固定一天开展党员活动日",
            deadline=today + timedelta(days=30 + n % 90))
        envelopes_ += envelopes(item, created, today)
        envelopes_ += envelopes(item, item.transition(IN_PROGRESS, actor=city, at=at), today)
    return envelopes_


def figures_fold_rate(settings: Settings, events: int) -> dict:
    """The issues figures' fold, as ``python -m services.issues.figures`` runs it, over item
    events already on the topic: until every item counts as started."""
    db = mongo.database(settings, ISSUES)
    ensure_issues_indexes(db)
    batch = item_events(settings, events)
    kafka = producer(settings, "bench-figures")
    for envelope in batch:
        kafka.send(settings.topic(ISSUES_TOPIC), key=record_key(envelope), value=encode(envelope))
    kafka.flush()
    kafka.close()
    store, items = MongoFigures(db), len(batch) // 2
    folder = Folder(store)
    runner = ConsumerRunner(
        f"{ISSUES}-figures", settings,
        {name: folder.fold_one for name, spec in CATALOG.items() if spec.topic == ISSUES_TOPIC},
        topics=(settings.topic(ISSUES_TOPIC),), group_id="bench-figures",
        batch_handler=folder.fold)

    def fold_all():
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        while sum(t["by_status"].get(IN_PROGRESS, 0)
                  for t in figures.by_county(store.tallies()).values()) < items:
            time.sleep(0.5)
        runner.stop.set()
        thread.join(30)

    return timed("issues figures' fold (a poll at once, per partition)", len(batch), fold_all)


def raw_kafka_rate(settings: Settings, events: int) -> dict:
    topic = settings.topic(INSPECTIONS_TOPIC)
    sample = encode(probe.check_failed("item-raw", 0))
    raw_producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                 linger_ms=2)
    raw_consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                 group_id=f"raw-{uuid.uuid4().hex[:6]}",
                                 auto_offset_reset="latest", enable_auto_commit=False)
    while not raw_consumer.assignment():
        raw_consumer.poll(100)

    def produce_then_consume():
        for i in range(events):
            raw_producer.send(topic, key=str(i % 500).encode(), value=sample)
        raw_producer.flush()
        seen = 0
        while seen < events:
            seen += sum(len(r) for r in raw_consumer.poll(500).values())
            raw_consumer.commit()

    try:
        return timed("raw kafka-python produce (acks=all) then consume", events,
                     produce_then_consume)
    finally:
        raw_producer.close()
        raw_consumer.close()


def raw_mongo_rates(settings: Settings, events: int) -> list[dict]:
    collection = mongo.database(settings, "bench_raw").docs
    docs = [{"_id": i, "n": 0, "processed_events": []} for i in range(events)]
    inserted = timed("raw pymongo insert_one", events,
                     lambda: [collection.insert_one(d) for d in docs])
    updated = timed("raw pymongo update_one ($inc by _id)", events,
                    lambda: [collection.update_one({"_id": i}, {"$inc": {"n": 1}})
                             for i in range(events)])
    return [inserted, updated]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10000)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(Settings.from_env(), database_prefix=f"bench{run}",
                                   topic_prefix=f"bench{run}.")
    ensure_topics(settings, partitions=6)
    rows = []
    try:
        rows.append(relay_rate(settings, args.events, per_doc=5))
        rows.append(consumer_rate(settings, args.events, batched=False))
        rows.append(consumer_rate(settings, args.events, batched=True))
        rows.append(figures_fold_rate(settings, args.events))
        rows.append(raw_kafka_rate(settings, args.events))
        rows.extend(raw_mongo_rates(settings, args.events))
    finally:
        client = mongo.client(settings.mongodb_uri)
        for name in client.list_database_names():
            if name.startswith(settings.database_prefix):
                client.drop_database(name)
    print("| what | events | seconds | events/s |\n| --- | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['what']} | {row['count']} | {row['seconds']} | {row['per_second']} |")


if __name__ == "__main__":
    main()
