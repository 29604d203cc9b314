"""A repository on a dict, behaving like the MongoDB one (one recorded change per version)."""

from __future__ import annotations

import copy
from datetime import date

from services.issues.domain.model import CLOSED, Item


class FakeItemRepository:
    def __init__(self):
        self.items: dict[str, Item] = {}
        self.fingerprint_of: dict[str, str | None] = {}
        self.imports: dict[str, str] = {}
        self.published: list[dict] = []  # every event handed to the outbox, in order

    def get(self, item_id: str) -> Item | None:
        item = self.items.get(item_id)
        return copy.deepcopy(item) if item else None

    def fingerprint(self, item_id: str) -> str | None:
        return self.fingerprint_of.get(item_id)

    def claim_import(self, import_id: str, fingerprint: str) -> str | None:
        earlier = self.imports.get(import_id)
        self.imports.setdefault(import_id, fingerprint)
        return earlier

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool:
        if item.id in self.items:
            return False
        self.items[item.id] = copy.deepcopy(item)
        self.fingerprint_of[item.id] = fingerprint
        self.published.extend(events)
        return True

    def add_many(self, batch) -> None:
        for item, events in batch:
            self.add(item, events)

    def save(self, item: Item, events: list[dict]) -> bool:
        if self.items[item.id].version != item.version - 1:
            return False  # that version is recorded already: somebody changed it first
        self.items[item.id] = copy.deepcopy(item)
        self.published.extend(events)
        return True

    def overdue_candidates(self, today: date, limit: int) -> list[Item]:
        found = [i for i in self.items.values() if i.status != CLOSED and i.deadline < today
                 and i.overdue_announced_for is None]
        return [copy.deepcopy(i) for i in found[:limit]]

    def of_type(self, event_type: str) -> list[dict]:
        return [e for e in self.published if e["type"] == event_type]
