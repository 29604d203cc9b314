"""Keeps this service's copy of the items from the issues topic (event-carried state).

``python -m services.inspections.consumer``. Every issue.* event carries the item's snapshot;
a snapshot replaces the copy only when its version is newer, so redelivery and reordering
change nothing. The issues service is never called.
"""

from __future__ import annotations

from services.inspections import SERVICE, handlers
from services.inspections.domain.model import CopiedItem
from services.inspections.repository import MongoItemCopy, ensure_indexes
from shared import mongo
from shared.config import Settings
from shared.consumer import DUPLICATE, PROCESSED, Handler, run_consumer
from shared.events import CATALOG, ISSUES_TOPIC, Event, now

ITEM_EVENTS = tuple(name for name, spec in CATALOG.items() if spec.topic == ISSUES_TOPIC)


def copied_item(state: dict) -> CopiedItem:
    """The parts of an ItemState snapshot an inspection needs (never the responsible person)."""
    return CopiedItem(
        id=state["id"], county=state["county"], township=state["township"],
        village=state["village"], problem=state["problem"], measure=state["measure"],
        deadline=state["deadline"], status=state["status"], reopen_count=state["reopen_count"],
        overdue=state["overdue"], overdue_count=state["overdue_count"],
        closed_at=state["closed_at"], version=state["version"])


def handlers_for(settings: Settings) -> dict[str, Handler]:
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    items = MongoItemCopy(db)

    def keep_snapshot(event: Event) -> str:
        kept = handlers.copy_item(items, copied_item(event.data["item"]), now())
        return PROCESSED if kept else DUPLICATE

    return {name: keep_snapshot for name in ITEM_EVENTS}


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=(ISSUES_TOPIC,))


if __name__ == "__main__":
    main()
