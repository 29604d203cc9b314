"""What the pull feed does: the caller's next events in a stable order, rule U applied."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from services.notifications.domain.feed import FeedPosition, StoredEvent, merge_page
from services.notifications.domain.rule_u import withheld
from services.notifications.repository import Stores
from shared import divisions
from shared.domain import Caller


def feed_page(stores: Stores, caller: Caller, position: FeedPosition,
              types: Collection[str] | None, limit: int) -> list[StoredEvent]:
    """The caller's next events after ``position`` (advanced past them), rule U applied."""
    hidden = withheld(caller)
    if types is not None:
        types = set(types) - hidden
    if caller.whole_region:
        counties = None
    elif caller.is_city:
        counties = divisions.current().counties_of(caller.city)
    else:
        counties = [caller.county]
    candidates = [stores.events.after(p, position.after(p), counties=counties, withheld=hidden,
                                      types=types, limit=limit)
                  for p in stores.events.partitions()]
    page = merge_page(candidates, limit)
    position.advance(page)
    return page


def wait_for_feed(stores: Stores, caller: Caller, position: FeedPosition,
                  types: Collection[str] | None, limit: int, *, wait: float,
                  pause: Callable[[float], None] = time.sleep) -> list[StoredEvent]:
    """``feed_page``, long-polled: ask again until an event comes or ``wait`` seconds passed."""
    deadline = time.monotonic() + wait
    interval = 0.1
    while True:
        page = feed_page(stores, caller, position, types, limit)
        left = deadline - time.monotonic()
        if page or left <= 0:
            return page
        pause(min(interval, left))
        interval = min(interval * 2, 1.0)
