"""Applies inspections to items: ``python -m services.issues.consumer``.

inspection.check_failed reopens a closed item or sends a pending one back (rule R);
inspection.check_passed leaves a note in the item's history; inspection.problem_found becomes
a new item of the county. Every handler is idempotent on the event id.
"""

from __future__ import annotations

from functools import partial

from services.issues import SERVICE, handlers
from services.issues.repository import MongoItemRepository, ensure_indexes
from shared import mongo
from shared.config import Settings
from shared.consumer import Handler, run_consumer
from shared.events import INSPECTIONS_TOPIC


def handlers_for(settings: Settings) -> dict[str, Handler]:
    db = mongo.database(settings, SERVICE)
    ensure_indexes(db)
    repo = MongoItemRepository(db)
    check = partial(handlers.apply_check, repo, reopen_deadline_days=settings.reopen_deadline_days)
    return {
        "inspection.check_failed": check,
        "inspection.check_passed": check,
        "inspection.problem_found": partial(handlers.create_from_problem, repo,
                                            deadline_days=settings.reopen_deadline_days),
    }


def main() -> None:
    run_consumer(SERVICE, handlers_for, topics=(INSPECTIONS_TOPIC,))


if __name__ == "__main__":
    main()
