"""A minimal service used to prove the plumbing: its documents carry outboxes of failed checks,
and its consumer tallies each check on the checked item, once per event, in arrival order.

Run as a process (so that tests can SIGKILL it): ``python -m tests.integration.shared.probe``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import mongo
from shared.config import Settings
from shared.consumer import DUPLICATE, PROCESSED, PermanentError, run_consumer
from shared.events import INSPECTIONS_TOPIC, Event, new_event
from shared.outbox import new_document, register

SERVICE = "probe"


def check_failed(item_id: str, sequence: int) -> dict:
    return new_event(
        "inspection.check_failed", subject=item_id, county="330603",
        data={"inspection_id": "probe", "item_id": item_id, "target_county": "330603",
              "outcome": "fail", "findings": str(sequence), "evidence": [],
              "observed_at": datetime.now(UTC)})


def seed(settings: Settings, items: int, checks_per_item: int) -> list[dict]:
    """Tally documents to apply to, and source documents whose outboxes hold the checks."""
    db = mongo.database(settings, SERVICE)
    register(db.sources)
    db.tallies.insert_many([{"_id": f"item-{i}", "applied": 0, "order": []} for i in range(items)])
    events = []
    for i in range(items):
        batch = [check_failed(f"item-{i}", n) for n in range(checks_per_item)]
        db.sources.insert_one(new_document({"_id": f"source-{i}"}, batch))
        events.extend(batch)
    return events


def handlers_for(settings: Settings):
    tallies = mongo.database(settings, SERVICE).tallies

    def tally(event: Event) -> str:
        result = mongo.apply_once(
            tallies, event.data["item_id"],
            {"$inc": {"applied": 1}, "$push": {"order": int(event.data["findings"])}},
            event_id=event.id)
        if result.applied:
            return PROCESSED
        if result.duplicate:
            return DUPLICATE
        raise PermanentError(f"no tally for {event.data['item_id']}")

    return {"inspection.check_failed": tally}


if __name__ == "__main__":
    run_consumer(SERVICE, handlers_for, (INSPECTIONS_TOPIC,))
