"""Keeps this service's copy of the items from the issues topic (event-carried state).

``python -m services.inspections.consumer``. Every issue.* event carries the item's snapshot;
a snapshot replaces the copy only when its version is newer, so redelivery and reordering
change nothing. The issues service is never called. The snapshots of one poll are kept
together (``handlers.copy_items``); the runner falls back to one at a time when a batch fails.
"""

from __future__ import annotations

import threading

from services.inspections import SERVICE, bootstrap, handlers, metrics
from services.inspections.domain.model import CopiedItem
from shared import gauges
from shared.clock import now
from shared.config import Settings
from shared.consumer import DUPLICATE, PROCESSED, BatchHandler, Handler, run_consumer
from shared.events import CATALOG, ISSUES_TOPIC, Event

ITEM_EVENTS = tuple(name for name, spec in CATALOG.items() if spec.topic == ISSUES_TOPIC)


def copied_item(state: dict) -> CopiedItem:
    """The parts of an ItemState snapshot an inspection needs (never the responsible person)."""
    return CopiedItem(
        id=state["id"], county=state["county"], township=state["township"],
        village=state["village"], problem=state["problem"], measure=state["measure"],
        deadline=state["deadline"], status=state["status"], reopen_count=state["reopen_count"],
        overdue=state["overdue"], overdue_count=state["overdue_count"],
        closed_at=state["closed_at"], version=state["version"])


def batch_handler_for(settings: Settings) -> BatchHandler:
    items = bootstrap.build(settings).items

    def keep_snapshots(batch: list[tuple[Event, tuple[str, int, int]]]) -> list[str | None]:
        # A snapshot that cannot be read is left to one at a time (and its dead letter).
        snapshots: list[CopiedItem | None] = []
        for event, _ in batch:
            try:
                snapshots.append(copied_item(event.data["item"]))
            except (KeyError, TypeError):
                snapshots.append(None)
        readable = [s for s in snapshots if s is not None]
        kept = iter(handlers.copy_items(items, readable, now()))
        return [None if s is None else PROCESSED if next(kept) else DUPLICATE
                for s in snapshots]

    return keep_snapshots


def handlers_for(settings: Settings) -> dict[str, Handler]:
    items = bootstrap.build(settings).items

    def keep_snapshot(event: Event) -> str:
        kept = handlers.copy_item(items, copied_item(event.data["item"]), now())
        return PROCESSED if kept else DUPLICATE

    return {name: keep_snapshot for name in ITEM_EVENTS}


def report_gauges(settings: Settings, stop: threading.Event) -> None:
    """``supervision_inspections``, counted every ``DATABASE_GAUGES_SECONDS`` by the consumer
    holding the gauges' lease."""
    inspections = bootstrap.build(settings)
    gauges.start_reporting(
        inspections.db, metrics.GAUGES_LEASE,
        lambda: metrics.set_inspection_gauges(inspections.inspections.count_by_status()),
        metrics.clear_inspection_gauges, stop, settings.database_gauges_seconds)


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=(ISSUES_TOPIC,),
                 batch_handler_for=batch_handler_for, beside=report_gauges)


if __name__ == "__main__":
    main()
