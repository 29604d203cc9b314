"""``python -m services.notifications.consumer``: keeps every event of both topics once, and a
pending delivery for each subscription that wants it. Sending happens in the dispatcher, off
this poll loop, so a slow county endpoint never holds up the partitions."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifications import handlers
from services.notifications.repository import Stores, ensure_indexes
from shared import mongo
from shared.config import Settings
from shared.consumer import Handler, PermanentError, record_position, run_consumer
from shared.events import CATALOG, TOPICS, Event

SERVICE = "notifications"


def handlers_for(settings: Settings) -> dict[str, Handler]:
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    stores = Stores.on(db)

    def record(event: Event) -> str:
        position = record_position.get()
        if position is None:
            raise PermanentError("the event came without its place in the log")
        return handlers.record_event(stores, event, position,
                                     schedule=settings.webhook_retry_schedule,
                                     now=datetime.now(UTC))

    return {event_type: record for event_type in CATALOG}


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=TOPICS)


if __name__ == "__main__":
    main()
