"""Keeps the figures of every county as its items change: ``python -m services.issues.figures``.

A consumer of the issues topic (group ``issues-figures``). Every item event carries the item as
it stands and its version, and the topic is keyed by item, so each partition brings each of its
items' changes in order. The owner of a partition folds them into one tally per (county,
partition), and records what each item counts for: the tally takes away what the item counted
for before and adds what it counts for now. docs/figures.md says why this is exactly right.

- A tally keeps its *position*, the offset after the last event folded into it, in the same
  document: an event before it (a redelivery, a replay) is not folded again, only what its
  item counts for is brought up to date.
- Tallies are written before what the items count for, and a tally only if its position is
  still the one read (another writer after a rebalance makes the write fail; the batch is
  read again and folded again).
- An event of a version already counted changes nothing.

``python -m services.issues.figures rebuild`` counts every item afresh (the figures process
stopped); ``recount`` prints any county whose kept figures differ from a full recount.
Every ``FIGURES_GAUGE_SECONDS`` (5) the process also reports the per-county gauges
(``supervision_items``, ``supervision_items_overdue``): the holder of a lease does, so that each
comes from one place.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from services.issues import SERVICE, metrics
from services.issues.domain import figures
from services.issues.domain.figures import Counted
from services.issues.domain.model import local_date
from services.issues.repository import MongoFigures, ensure_indexes, tally_id
from shared import gauges, mongo, process
from shared import logging as slog
from shared.clock import now
from shared.config import Settings
from shared.consumer import DUPLICATE, PROCESSED, ConsumerRunner, TransientError, record_position
from shared.events import CATALOG, ISSUES_TOPIC, Event
from shared.kafka import consumer as make_consumer

log = logging.getLogger(__name__)
GROUP = "issues-figures"
GAUGES_LEASE = "issues-figures-gauges"
POLL_RECORDS = 500  # a fold costs a few reads and writes per county and item, not per event


class Folder:
    """Folds item events into the tallies of their partitions."""

    def __init__(self, store: MongoFigures):
        self.store = store

    def fold(self, records: list[tuple[Event, tuple[str, int, int]]]) -> list[str]:
        """Fold the events, each with its place in the log; what happened to each, in order."""
        outcomes = [DUPLICATE] * len(records)
        by_partition: dict[int, list[int]] = {}
        for n, (_, (_, partition, _)) in enumerate(records):
            by_partition.setdefault(partition, []).append(n)
        for partition, positions in by_partition.items():
            events = [(records[n][0], records[n][1][2], n) for n in positions]
            for n in self._fold_partition(partition, events):
                outcomes[n] = PROCESSED
        return outcomes

    def fold_one(self, event: Event) -> str:
        position = record_position.get()
        return self.fold([(event, position)])[0]

    def _fold_partition(self, partition: int, events: list[tuple[Event, int, int]]) -> list[int]:
        states = [event.data["item"] for event, _, _ in events]
        read = self.store.partition_tallies(partition, {s["county"] for s in states})
        read_at = {code: doc["position"] for code, doc in read.items()}
        counted = self.store.counted({s["id"] for s in states})
        tallies: dict[str, dict] = {}
        changed: dict[str, Counted] = {}
        folded, moved = [], set()
        for (_, offset, n), state in zip(events, states, strict=True):
            after = Counted.of(state)
            before = counted.get(state["id"])
            if before is not None and before.version >= after.version:
                continue  # that version or a later one is counted already
            tally = tallies.get(after.county) or read.get(after.county) or {
                "_id": tally_id(partition, after.county), "partition": partition,
                "county": after.county, "position": 0, **figures.empty_tally()}
            tallies[after.county] = tally
            if offset >= tally["position"]:
                figures.move(tally, before, after)
                tally["position"] = offset + 1
                folded.append(n)
                moved.add(after.county)
            counted[state["id"]] = changed[state["id"]] = after
        written = [(tallies[code], read_at.get(code)) for code in moved]
        if not self.store.save_tallies(written):
            raise TransientError(f"the figures of partition {partition} moved on meanwhile; "
                                 "folding again from what is kept")
        self.store.keep_counted(changed)
        return folded


def partitioner(settings: Settings):
    """The partition the producers' default partitioner sends an item's events to."""
    probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        partitions = probe.partitions_for_topic(settings.topic(ISSUES_TOPIC))
    finally:
        probe.close()
    if not partitions:
        raise SystemExit(f"the topic {settings.topic(ISSUES_TOPIC)} does not exist")
    count = len(partitions)
    return lambda item_id: (murmur2(item_id.encode()) & 0x7FFFFFFF) % count


def run(settings: Settings) -> None:
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    store = MongoFigures(db)
    folder = Folder(store)
    topics = (settings.topic(ISSUES_TOPIC),)
    group = f"{settings.topic_prefix}{GROUP}"
    runner = ConsumerRunner(
        f"{SERVICE}-figures", settings,
        {name: folder.fold_one for name, spec in CATALOG.items() if spec.topic == ISSUES_TOPIC},
        topics=topics, group_id=group, batch_handler=folder.fold,
        consumer=make_consumer(settings, group, topics, client_id=f"{SERVICE}-figures",
                               max_poll_records=POLL_RECORDS))
    process.stop_on_signals(runner.stop)
    # Sum the tallies into every county's summary, keep it for the reports, set the gauges.
    gauges.start_reporting(
        db, GAUGES_LEASE, lambda: metrics.set_item_gauges(store.summarise(local_date(now()))),
        metrics.clear_item_gauges, runner.stop, settings.figures_gauge_seconds)
    runner.run()


def differences(store: MongoFigures) -> dict[str, dict]:
    """The counties whose kept figures differ from a full recount: {county: {kept, recount}}."""
    kept, recounted = figures.by_county(store.tallies()), store.recount()
    today = local_date(now())
    empty = figures.empty_tally()
    rows = {code: (figures.summary(kept.get(code, empty), today),
                   figures.summary(recounted.get(code, empty), today))
            for code in set(kept) | set(recounted)}
    return {code: {"kept": a, "recount": b} for code, (a, b) in rows.items() if a != b}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.issues.figures",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="run", choices=("run", "rebuild",
                                                                       "recount"))
    args = parser.parse_args(argv)
    if args.command == "run":
        run(process.start(f"{SERVICE}-figures"))
        return
    settings = Settings.from_env()
    slog.configure(f"{SERVICE}-figures", settings.log_level)
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    store = MongoFigures(db)
    if args.command == "rebuild":
        counted = store.rebuild(partitioner(settings))
        log.info("figures rebuilt from the items", extra={"items": counted})
        print(f"figures rebuilt from {counted} items")
        return
    differ = differences(store)
    print(json.dumps(differ, ensure_ascii=False, indent=1, default=str) if differ else
          "the kept figures equal a full recount")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
