"""A minimal service used to prove the plumbing: its documents carry outboxes of failed checks,
and its consumer tallies each check on the checked item through the change log, once per event
(the ids of the events applied are kept in the tally), in arrival order. Its process applies a
whole poll at once as the services do (``batch_handler_for``), one at a time when a batch
leaves an event or fails.

Run as a process (so that tests can SIGKILL it): ``python -m tests.integration.shared.probe``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import mongo
from shared.changelog import ChangeLog
from shared.config import Settings
from shared.consumer import DUPLICATE, PROCESSED, PermanentError, TransientError, run_consumer
from shared.events import INSPECTIONS_TOPIC, Event, new_event
from shared.outbox import new_document, register

SERVICE = "probe"
ATTEMPTS = 5


def tallies(settings: Settings) -> ChangeLog:
    return ChangeLog(mongo.database(settings, SERVICE), "tallies", "tally_changes", key="tally_id")


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
    log = tallies(settings)
    log.ensure_indexes()
    log.record_new(({"_id": f"item-{i}", "version": 1, "applied": 0, "order": [], "seen": []}, [])
                   for i in range(items))
    events = []
    for i in range(items):
        batch = [check_failed(f"item-{i}", n) for n in range(checks_per_item)]
        db.sources.insert_one(new_document({"_id": f"source-{i}"}, batch))
        events.extend(batch)
    return events


def handlers_for(settings: Settings):
    log = tallies(settings)

    def tally(event: Event) -> str:
        for _ in range(ATTEMPTS):
            state = log.get(event.data["item_id"])
            if state is None:
                raise PermanentError(f"no tally for {event.data['item_id']}")
            if event.id in state["seen"]:
                return DUPLICATE
            if log.record(tallied(state, event), []):
                return PROCESSED
        raise TransientError(f"tally {event.data['item_id']} kept changing")

    return {"inspection.check_failed": tally}


def tallied(state: dict, event: Event) -> dict:
    return {**state, "version": state["version"] + 1, "applied": state["applied"] + 1,
            "order": [*state["order"], int(event.data["findings"])],
            "seen": [*state["seen"], event.id]}


def batch_handler_for(settings: Settings):
    log = tallies(settings)

    def tally_all(batch: list[tuple[Event, tuple[str, int, int]]]) -> list[str | None]:
        events = [event for event, _ in batch]
        states = log.current_of(event.data["item_id"] for event in events)
        outcomes: list[str | None] = [None] * len(events)  # an unknown tally: one at a time
        decided = []
        for n, event in enumerate(events):
            state = states.get(event.data["item_id"])
            if state is None:
                continue
            if event.id in state["seen"]:
                outcomes[n] = DUPLICATE
                continue
            states[state["_id"]] = state = tallied(state, event)
            decided.append((n, state))
        refused = set()
        for (n, state), recorded in zip(decided, log.record_many([(s, []) for _, s in decided]),
                                        strict=True):
            if recorded and state["_id"] not in refused:
                outcomes[n] = PROCESSED
            else:
                refused.add(state["_id"])
        return outcomes

    return tally_all


if __name__ == "__main__":
    run_consumer(SERVICE, handlers_for, (INSPECTIONS_TOPIC,), batch_handler_for=batch_handler_for)
