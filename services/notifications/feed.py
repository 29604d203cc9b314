"""What the pull feed does: the caller's next events in a stable order, rule U applied."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from services.notifications.domain.feed import FeedPosition, StoredEvent, merge_page
from services.notifications.domain.rule_u import CITY_ONLY_TYPES, Caller, scope_of
from services.notifications.repository import Stores


def feed_page(stores: Stores, caller: Caller, position: FeedPosition,
              types: Collection[str] | None, limit: int) -> list[StoredEvent]:
    """The caller's next events after ``position`` (advanced past them), rule U applied."""
    scope = scope_of(caller)
    if scope is not None and types is not None:
        types = set(types) - CITY_ONLY_TYPES
    candidates = [stores.events.after(p, position.after(p), scope=scope, types=types, limit=limit)
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
