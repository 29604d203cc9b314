"""The pull feed: events as the service keeps them, and a reader's place among them."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class StoredEvent:
    """An event as the service keeps it: the envelope at its place in the broker's log."""

    id: str
    type: str
    county: str
    subject: str
    time: datetime
    seq: int  # the order of receipt across the whole service
    partition: str  # "topic:partition"
    offset: int
    envelope: dict


@dataclass
class FeedPosition:
    """Where a reader stands: the last offset it was given on every partition.

    Each partition is consumed in order by one consumer at a time, which stores every event
    before the next, so offsets appear in the store in order: "everything after offset n" never
    skips an event that is stored later (no gaps), and never repeats one (no duplicates).
    """

    offsets: dict[str, int] = field(default_factory=dict)

    def after(self, partition: str) -> int:
        return self.offsets.get(partition, -1)

    def advance(self, entries: Iterable[StoredEvent]) -> None:
        for entry in entries:
            self.offsets[entry.partition] = max(self.after(entry.partition), entry.offset)


def merge_page(candidates: Iterable[Sequence[StoredEvent]], limit: int) -> list[StoredEvent]:
    """Up to ``limit`` entries, oldest first, taking a prefix of each partition's candidates.

    heapq.merge only ever takes the head of a partition's list, so each partition is served in
    offset order even where event times are not monotonic: an entry is never passed over on its
    partition while a later one is served, which is what keeps the cursor gap-free.
    """
    merged = heapq.merge(*candidates, key=lambda e: (e.time, e.partition))
    return list(itertools.islice(merged, limit))
