"""The issues service's use cases: load an item through the repository, let the domain decide,
save the item and the events it caused in one write. Entrypoints (API, consumer, scheduler)
only parse their input and call these.

A save is refused when somebody else changed the item since it was read (optimistic
concurrency): the API answers 412, event handlers read again and decide again.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.issues import metrics
from services.issues.domain.model import (
    SYSTEM,
    Caller,
    Change,
    DomainError,
    Item,
    ReportedCheck,
    local_date,
)
from services.issues.repository import ItemRepository
from shared.clock import now_ms
from shared.consumer import DUPLICATE as EVENT_DUPLICATE
from shared.consumer import PROCESSED, PermanentError, TransientError
from shared.domain import Unknown, WrongState
from shared.events import Event
from shared.events import envelopes as events_of

SAVE_ATTEMPTS = 5  # optimistic concurrency: reload and decide again this many times


class ItemNotFound(Unknown):
    """No such item, or one of another county (its existence is not theirs to know)."""

    def __init__(self, item_id: str):
        super().__init__(f"No item {item_id}.")


class StaleVersion(Exception):
    """The caller's copy (If-Match) is not the item's current version."""

    def __init__(self, current: int):
        super().__init__(f"the item is at version {current}")
        self.current = current


class IdempotencyMismatch(WrongState):
    """The Idempotency-Key was used before with another body."""


def envelopes(item: Item, changes: list[Change], today: date) -> list[dict]:
    """CloudEvents for ``changes``, each carrying the item as it stands after them."""
    return events_of(changes, subject=item.id, county=item.county,
                     carried={"item": item.snapshot(today)}, itemversion=item.version)


@dataclass(frozen=True)
class NewItem:
    county: str
    township: str
    village: str
    problem: str
    measure: str
    deadline: date
    responsible: str | None = None
    category: str | None = None
    public: bool = False
    village_code: str | None = None  # where the village matched the division codes


def create_item(repo: ItemRepository, new: NewItem, actor: Caller, *, item_id: str | None = None,
                fingerprint: str | None = None) -> tuple[Item, bool]:
    """Create an item; answer it and whether it was created now (False: an idempotent retry)."""
    if item_id is not None and (existing := repo.get(item_id)) is not None:
        return _replayed(repo, existing, fingerprint), False
    at = now_ms()
    item, changes = Item.create(id=item_id or str(uuid.uuid4()), actor=actor, at=at,
                                **vars(new))
    if not repo.add(item, envelopes(item, changes, local_date(at)), fingerprint=fingerprint):
        # A concurrent retry with the same key inserted first.
        return _replayed(repo, repo.get(item.id), fingerprint), False
    return item, True


def _replayed(repo: ItemRepository, existing: Item, fingerprint: str | None) -> Item:
    if repo.fingerprint(existing.id) != fingerprint:
        raise IdempotencyMismatch("This Idempotency-Key was used with another request body.")
    return existing


@dataclass(frozen=True)
class ImportOutcome:
    created: dict[int, str]  # row number -> item id
    refused: dict[int, dict[str, list[str]]]  # row number -> {field: messages}
    written: bool


def import_items(repo: ItemRepository, rows: list[tuple[int, NewItem]], actor: Caller, *,
                 refused: dict[int, dict[str, list[str]]], atomic: bool,
                 id_for_row: Callable[[int], str], import_id: str | None = None,
                 fingerprint: str | None = None) -> ImportOutcome:
    """Import a county list: ``rows`` read well, ``refused`` did not. ``atomic``: all or none.

    With an Idempotency-Key the import is recorded as ``import_id`` with the file's
    ``fingerprint``, and ``id_for_row(row)`` derives each item's id from the key: the same file
    sent again adds nothing (and completes an attempt cut short); another file is refused.
    """
    at = now_ms()
    today = local_date(at)
    refused = dict(refused)
    batch: dict[int, tuple[Item, list[dict]]] = {}
    for row, new in rows:
        try:
            item, changes = Item.create(id=id_for_row(row), actor=actor, at=at,
                                        cause="imported", **vars(new))
        except DomainError as exc:
            refused[row] = {exc.field or "_row": [str(exc)]}
            continue
        batch[row] = (item, envelopes(item, changes, today))
    if atomic and refused:
        return ImportOutcome({}, refused, written=False)
    if import_id is not None and fingerprint is not None:
        earlier = repo.claim_import(import_id, fingerprint)
        if earlier is not None and earlier != fingerprint:
            raise IdempotencyMismatch("This Idempotency-Key was used with another file.")
    repo.add_many(list(batch.values()))
    return ImportOutcome({row: item.id for row, (item, _) in batch.items()}, refused,
                         written=True)


def transition_item(repo: ItemRepository, item_id: str, to: str, actor: Caller, *,
                    expected_version: int, reason: str | None = None,
                    evidence: list[str] | None = None) -> Item:
    item = repo.get(item_id)
    # Another county's item is "not found", as a missing one: its existence is not theirs to know.
    if item is None or not actor.administers(item.county):
        raise ItemNotFound(item_id)
    if item.version != expected_version:
        raise StaleVersion(item.version)
    at = now_ms()
    changes = item.transition(to, actor=actor, at=at, reason=reason, evidence=evidence)
    if not repo.save(item, envelopes(item, changes, local_date(at))):
        raise StaleVersion(repo.get(item_id).version)
    return item


def _check(event: Event) -> ReportedCheck:
    data = event.data
    return ReportedCheck(event_id=event.id, inspection_id=data["inspection_id"],
                         passed=event.type == "inspection.check_passed",
                         observed_at=data["observed_at"], findings=data.get("findings"),
                         evidence=tuple(data.get("evidence") or ()),
                         inspector=data.get("inspector"))


def apply_check(repo: ItemRepository, event: Event, *, reopen_deadline_days: int) -> str:
    """An inspection's check of an item (rule R); idempotent on the event id.

    The item keeps the ids of the events applied to it, so a redelivered event is recognised on
    the fresh read; of two consumers racing on one event only one records the change, and the
    other, reading again, finds the event applied.
    """
    data = event.data
    check = _check(event)
    for _ in range(SAVE_ATTEMPTS):
        item = repo.get(data["item_id"])
        if item is None:
            raise PermanentError(f"no item {data['item_id']} to apply the check to")
        version = item.version
        at = now_ms()
        changes = item.apply_check(check, at=at, reopen_deadline_days=reopen_deadline_days)
        if item.version == version:
            return EVENT_DUPLICATE
        if repo.save(item, envelopes(item, changes, local_date(at))):
            if any(c.type == "issue.reopened" for c in changes):
                metrics.ITEMS_REOPENED.labels(item.county).inc()
            return PROCESSED
    raise TransientError(f"item {data['item_id']} kept changing; the check is retried")


def problem_item_id(event: Event) -> str:
    """The id of the item a problem found on site becomes: derived from the event id, so the
    same event delivered twice creates nothing new."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"supervision:problem_found:{event.id}"))


def create_from_problem(repo: ItemRepository, event: Event, *, deadline_days: int) -> str:
    """A new problem an inspection team found on site becomes an item of that county."""
    if repo.get(problem_item_id(event)) is not None:
        return EVENT_DUPLICATE
    at = now_ms()
    item, changes = _problem_item(event, at, deadline_days)
    added = repo.add(item, envelopes(item, changes, local_date(at)))
    return PROCESSED if added else EVENT_DUPLICATE


def _problem_item(event: Event, at: datetime, deadline_days: int) -> tuple[Item, list[Change]]:
    data = event.data
    try:
        return Item.create(
            id=problem_item_id(event), actor=Caller(f"inspection:{data['inspection_id']}", SYSTEM),
            at=at, county=data["county"], township=data["township"], village=data["village"],
            problem=data["problem"], measure=data["measure"],
            deadline=local_date(data["found_at"]) + timedelta(days=deadline_days),
            cause="inspection.problem_found", inspection_id=data["inspection_id"])
    except DomainError as exc:
        raise PermanentError(str(exc)) from exc


def apply_inspection_events(repo: ItemRepository, events: Sequence[Event], *,
                            reopen_deadline_days: int) -> list[str | None]:
    """A poll's checks and problems found, in a few round trips for all: the items read at
    once (``current_of``), every change recorded by ``save_many``. Answers PROCESSED or
    DUPLICATE for each event, or None for one left to ``apply_check`` or
    ``create_from_problem``, one at a time.

    The events of one item are decided in order, each on the state the one before left, and
    recorded as successive versions. Left to one at a time: an event whose item is not known
    (one at a time reads it again, then dead-letters the event), one that cannot be decided,
    one whose change was refused (the current state was behind, or another writer changed the
    item first: one at a time reads again and decides again), and every later event of the
    same item, so that per-item order holds.
    """
    outcomes: list[str | None] = [None] * len(events)
    try:
        ids = [problem_item_id(event) if event.type == "inspection.problem_found"
               else event.data["item_id"] for event in events]
    except (KeyError, TypeError):
        return outcomes  # a malformed event: all one at a time, where it is dead-lettered
    items = repo.current_of(ids)
    at = now_ms()
    today = local_date(at)
    left: set[str] = set()
    decided: list[tuple[int, Item, list[dict], bool]] = []
    for n, (event, item_id) in enumerate(zip(events, ids, strict=True)):
        item = items.get(item_id)
        if item_id in left or (item is None and event.type != "inspection.problem_found"):
            left.add(item_id)
            continue
        try:
            if event.type == "inspection.problem_found":
                if item is not None:
                    outcomes[n] = EVENT_DUPLICATE
                    continue
                item, changes = _problem_item(event, at, reopen_deadline_days)
                items[item_id] = item
            else:
                version = item.version
                changes = item.apply_check(_check(event), at=at,
                                           reopen_deadline_days=reopen_deadline_days)
                if item.version == version:
                    outcomes[n] = EVENT_DUPLICATE
                    continue
        except Exception:  # noqa: BLE001 — one at a time decides its fate (retry or DLQ)
            left.add(item_id)
            continue
        reopened = any(c.type == "issue.reopened" for c in changes)
        decided.append((n, copy.deepcopy(item), envelopes(item, changes, today), reopened))
    recorded = repo.save_many([(item, sent) for _, item, sent, _ in decided])
    for (n, item, _, reopened), ok in zip(decided, recorded, strict=True):
        if not ok or item.id in left:
            left.add(item.id)  # decided on top of a change that was refused, or half-decided
            continue
        outcomes[n] = PROCESSED
        if reopened:
            metrics.ITEMS_REOPENED.labels(item.county).inc()
    return outcomes


def announce_overdue(repo: ItemRepository, *, at: datetime, batch_size: int = 500) -> int:
    """Announce every item that passed its deadline since the last scan; answer how many.

    Each announcement is a version-guarded write, so two scanners racing on one item announce
    it once: the second write is refused, and the item read again is already announced.
    """
    today = local_date(at)
    announced = 0
    while True:
        candidates = repo.overdue_candidates(today, batch_size)
        progressed = sum(_announce(repo, item, today, at) for item in candidates)
        announced += progressed
        if len(candidates) < batch_size or not progressed:
            return announced


def _announce(repo: ItemRepository, item: Item | None, today: date, at: datetime) -> bool:
    """Announce ``item`` overdue unless it is not (any more); True when this call did."""
    for _ in range(SAVE_ATTEMPTS):
        changes = item.announce_overdue(today, at) if item else []
        if not changes:
            return False
        if repo.save(item, envelopes(item, changes, today)):
            return True
        item = repo.get(item.id)
    return False
