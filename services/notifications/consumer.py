"""``python -m services.notifications.consumer``: keeps every event of both topics once, and a
pending delivery for each subscription that wants it. Sending happens in the dispatcher, off
this poll loop, so a slow county endpoint never holds up the partitions.

The events of one poll are recorded together (``recording.record_events``); the runner falls
back to one at a time, through the same function, when a batch fails."""

from __future__ import annotations

from services.notifications import SERVICE, bootstrap, recording
from shared.clock import now
from shared.config import Settings
from shared.consumer import BatchHandler, Handler, PermanentError, record_position, run_consumer
from shared.events import CATALOG, TOPICS, Event


def batch_handler_for(settings: Settings) -> BatchHandler:
    stores = bootstrap.build(settings).stores

    def record_all(batch: list[tuple[Event, tuple[str, int, int]]]) -> list[str]:
        return recording.record_events(stores, batch, schedule=settings.webhook_retry_schedule,
                                       now=now())

    return record_all


def handlers_for(settings: Settings) -> dict[str, Handler]:
    record_all = batch_handler_for(settings)

    def record(event: Event) -> str:
        position = record_position.get()
        if position is None:
            raise PermanentError("the event came without its place in the log")
        [outcome] = record_all([(event, position)])
        return outcome

    return {event_type: record for event_type in CATALOG}


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=TOPICS, batch_handler_for=batch_handler_for)


if __name__ == "__main__":
    main()
