"""Applies inspections to items: ``python -m services.issues.consumer``.

inspection.check_failed reopens a closed item or sends a pending one back (rule R);
inspection.check_passed leaves a note in the item's history; inspection.problem_found becomes
a new item of the county. Every handler is idempotent on the event id.

The events of one poll are applied together (``handlers.apply_inspection_events``: the items
read at once, the changes recorded in a few inserts); what a batch leaves, the runner applies
one at a time through the handlers below.
"""

from __future__ import annotations

from functools import partial

from services.issues import SERVICE, bootstrap, handlers
from shared.config import Settings
from shared.consumer import BatchHandler, Handler, run_consumer
from shared.events import INSPECTIONS_TOPIC, Event


def batch_handler_for(settings: Settings) -> BatchHandler:
    repo = bootstrap.build(settings).items

    def apply_all(batch: list[tuple[Event, tuple[str, int, int]]]) -> list[str | None]:
        return handlers.apply_inspection_events(
            repo, [event for event, _ in batch],
            reopen_deadline_days=settings.reopen_deadline_days)

    return apply_all


def handlers_for(settings: Settings) -> dict[str, Handler]:
    repo = bootstrap.build(settings).items
    check = partial(handlers.apply_check, repo, reopen_deadline_days=settings.reopen_deadline_days)
    return {
        "inspection.check_failed": check,
        "inspection.check_passed": check,
        "inspection.problem_found": partial(handlers.create_from_problem, repo,
                                            deadline_days=settings.reopen_deadline_days),
    }


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=(INSPECTIONS_TOPIC,),
                 batch_handler_for=batch_handler_for)


if __name__ == "__main__":
    main()
