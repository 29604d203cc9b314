"""Use cases of the inspections service: load through a repository, ask the domain, save.

The domain returns the events a change causes as ``Change``s; ``_events`` makes CloudEvents of
them, and they travel in the same write as the change (the repository's outbox).
Refusals are shared.domain kinds, answered as problem+json by shared.errors.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.inspections.domain import sampling
from services.inspections.domain.model import (
    FAIL,
    Check,
    CopiedItem,
    Inspection,
    InvalidRequest,
    NewProblem,
    Sample,
    TeamMember,
    WrongStatus,
)
from services.inspections.metrics import CHECKS
from services.inspections.repository import InspectionRepository, ItemCopy
from shared.domain import Caller, Change, NotPermitted, Unknown
from shared.events import envelopes
from shared.evidence import Evidence, EvidenceStore, Photo, inspection_owner

# A change lost to a concurrent one is decided again on fresh state, a few times at most.
ATTEMPTS = 5
COPY_MAY_BE_BEHIND = ("this service's copy of the items may simply be behind the issues service;"
                      " if the item was created just now, try again shortly")


class UnknownInspection(Unknown):
    """No inspection the caller may see has this id. The same words whether it exists or not
    (rule U): a hidden inspection must be indistinguishable from a missing one."""

    def __init__(self):
        super().__init__("There is no such inspection.")


class UnknownEvidence(Unknown):
    def __init__(self):
        super().__init__("The inspection has no such photo.")


@dataclass(frozen=True)
class SampleRequest:
    strategy: str
    size: int
    status: tuple[str, ...] | None = None
    seed: int | None = None


@dataclass(frozen=True)
class PlanInspection:
    target_county: str
    kind: str
    team: list[TeamMember]
    window_start: datetime
    window_end: datetime
    item_ids: list[str] | None = None
    sample: SampleRequest | None = None


@dataclass(frozen=True)
class Draw:
    """What a sample draws now from this service's copy: the sample with its seed, how many
    items it drew from, and the items drawn."""

    sample: Sample
    population: int
    items: list[CopiedItem]


@dataclass(frozen=True)
class InspectionView:
    """An inspection as one viewer may see it: the sampled items only where rule U allows."""

    inspection: Inspection
    items: list[CopiedItem] | None


def new_seed() -> int:
    return secrets.randbelow(2**31)


def plan(inspections: InspectionRepository, items: ItemCopy, command: PlanInspection, *,
         inspection_id: str, planned_by: Caller, now: datetime, fingerprint: str,
         seed: Callable[[], int] = new_seed) -> InspectionView:
    """Plan an inspection. Under a reused Idempotency-Key (same id) the first answer comes back
    for the same request, and a conflict for another."""
    _check_plans_of(planned_by, command.target_county)
    existing = inspections.get(inspection_id)
    if existing is None:
        item_ids, sample = _choose_items(items, command, now, seed)
        inspection, changes = Inspection.plan(
            id=inspection_id, target_county=command.target_county, kind=command.kind,
            team=command.team, window_start=command.window_start, window_end=command.window_end,
            item_ids=item_ids, sample=sample, planned_by=planned_by.sub, now=now,
            fingerprint=fingerprint)
        if inspections.add(inspection, _events(inspection, changes)):
            return view(items, inspection, planned_by)
        existing = inspections.get(inspection_id)  # the same key won a race a moment ago
    if existing is None or existing.fingerprint != fingerprint:
        raise WrongStatus("This Idempotency-Key was already used to plan another inspection.")
    return view(items, existing, planned_by)


def draw(items: ItemCopy, target_county: str, requested: SampleRequest, *, by: Caller,
         now: datetime, seed: Callable[[], int] = new_seed) -> Draw:
    """What a plan with this sample would draw now, for the city to look at before it plans;
    nothing is kept. A plan with the answered seed draws the same while the copy stays as it
    is (docs/sampling.md)."""
    _check_plans_of(by, target_county)
    return _drawn(items, target_county, requested, now, seed)


def get(inspections: InspectionRepository, items: ItemCopy, inspection_id: str,
        viewer: Caller) -> InspectionView:
    return view(items, _visible(inspections, inspection_id, viewer), viewer)


def list_inspections(inspections: InspectionRepository, viewer: Caller, *, status: str | None,
                     target_county: str | None, after: tuple[datetime, str] | None,
                     limit: int) -> tuple[list[Inspection], tuple[datetime, str] | None]:
    """One page of what the viewer may see, and the position after it (None on the last)."""
    rows = inspections.list(viewer, status=status, target_county=target_county, after=after,
                            limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return page, (page[-1].planned_at, page[-1].id) if more else None


def start(inspections: InspectionRepository, items: ItemCopy, inspection_id: str, by: Caller,
          now: datetime) -> InspectionView:
    return view(items, _change(inspections, inspection_id, by,
                               lambda inspection: inspection.start(by, now)), by)


def file_results(inspections: InspectionRepository, items: ItemCopy, inspection_id: str,
                 by: Caller, checks: list[Check], new_problems: list[NewProblem], now: datetime,
                 *, key: str | None, fingerprint: str) -> InspectionView:
    filed: list[Check] = []

    def change(inspection: Inspection) -> list[Change] | None:
        if inspection.is_retry_of_filing(by, key, fingerprint):
            return None
        changes = inspection.file_results(by, checks, new_problems, now, key=key,
                                          fingerprint=fingerprint)
        filed[:] = checks
        return changes

    inspection = _change(inspections, inspection_id, by, change)
    for check in filed:
        CHECKS.labels("failed" if check.outcome == FAIL else "passed").inc()
    return view(items, inspection, by)


def add_evidence(inspections: InspectionRepository, store: EvidenceStore, inspection_id: str,
                 by: Caller, photo: Photo, *, evidence_id: str, now: datetime) -> Evidence:
    """Keep a photo the team took on site, for the checks of the results to name."""
    _visible(inspections, inspection_id, by).check_may_add_evidence(by)
    return store.add(evidence_id, inspection_owner(inspection_id), photo, uploaded_by=by.sub,
                     now=now)


def evidence(inspections: InspectionRepository, store: EvidenceStore, inspection_id: str,
             evidence_id: str, viewer: Caller) -> Evidence:
    """A photo of the inspection, for whoever may see the inspection (rules U and X)."""
    _visible(inspections, inspection_id, viewer)
    found = store.of(inspection_owner(inspection_id), evidence_id)
    if found is None:
        raise UnknownEvidence()
    return found


def cancel(inspections: InspectionRepository, items: ItemCopy, inspection_id: str, by: Caller,
           now: datetime, reason: str | None) -> InspectionView:
    return view(items, _change(inspections, inspection_id, by,
                               lambda inspection: inspection.cancel(by, now, reason)), by)


def copy_item(items: ItemCopy, item: CopiedItem, now: datetime) -> bool:
    """Keep the newest snapshot of an item; False when this one was stale or seen already."""
    return items.upsert_newer(item, now)


def copy_items(items: ItemCopy, snapshots: list[CopiedItem], now: datetime) -> list[bool]:
    """``copy_item`` for a poll's snapshots at once: of one item's, only the newest is offered
    (the others are stale already: False), one guarded write per item."""
    newest: dict[str, int] = {}
    for n, item in enumerate(snapshots):
        if item.id not in newest or item.version > snapshots[newest[item.id]].version:
            newest[item.id] = n
    offered = list(newest.values())
    kept = dict(zip(offered, items.upsert_newer_many([snapshots[n] for n in offered], now),
                    strict=True))
    return [kept.get(n, False) for n in range(len(snapshots))]


def view(items: ItemCopy, inspection: Inspection, viewer: Caller) -> InspectionView:
    if not inspection.shows_items_to(viewer):
        return InspectionView(inspection, None)
    known = items.get_many(inspection.item_ids)
    return InspectionView(inspection, [known[i] for i in inspection.item_ids if i in known])


# --- helpers ------------------------------------------------------------------------------

def _visible(inspections: InspectionRepository, inspection_id: str,
             viewer: Caller) -> Inspection:
    inspection = inspections.get(inspection_id)
    if inspection is None or not inspection.visible_to(viewer):
        raise UnknownInspection()
    return inspection


def _change(inspections: InspectionRepository, inspection_id: str, viewer: Caller,
            change: Callable[[Inspection], list[Change] | None]) -> Inspection:
    """Apply ``change`` and save under optimistic concurrency, deciding again when overtaken.
    ``change`` answers the events it causes, or None when there is nothing to save (a retry)."""
    for _ in range(ATTEMPTS):
        inspection = _visible(inspections, inspection_id, viewer)
        changes = change(inspection)
        if changes is None or inspections.save(inspection, _events(inspection, changes)):
            return inspection
    raise WrongStatus("The inspection kept changing while this request was decided; try again.")


def _events(inspection: Inspection, changes: list[Change]) -> list[dict]:
    """The CloudEvents of the inspection's change, handed over to be saved with it."""
    return envelopes(changes, subject=inspection.id, county=inspection.target_county)


def _choose_items(items: ItemCopy, command: PlanInspection, now: datetime,
                  seed: Callable[[], int]) -> tuple[list[str], Sample | None]:
    county = command.target_county
    if command.item_ids is not None:
        known = items.get_many(command.item_ids)
        errors = {}
        for i, item_id in enumerate(command.item_ids):
            if item_id not in known:
                errors[str(i)] = [f"Unknown item {item_id}: {COPY_MAY_BE_BEHIND}."]
            elif known[item_id].county != county:
                errors[str(i)] = [f"Item {item_id} belongs to county {known[item_id].county}, "
                                  f"not to the target county {county}."]
        if errors:
            first = next(iter(errors.values()))[0]
            raise InvalidRequest(f"The items cannot be inspected: {first}", {"item_ids": errors})
        return list(command.item_ids), None
    assert command.sample is not None  # the schema demands item_ids or a sample
    drawn = _drawn(items, county, command.sample, now, seed)
    return [item.id for item in drawn.items], drawn.sample


def _drawn(items: ItemCopy, county: str, requested: SampleRequest, now: datetime,
           seed: Callable[[], int]) -> Draw:
    """The sample drawn from the county's items in the copy, with the seed it used."""
    used = Sample(strategy=requested.strategy, size=requested.size,
                  seed=requested.seed if requested.seed is not None else seed(),
                  status=requested.status)
    population = items.of_county(county, requested.status)
    if not population:
        within = f" in status {', '.join(requested.status)}" if requested.status else ""
        message = f"No items of county {county}{within} to sample; {COPY_MAY_BE_BEHIND}."
        raise InvalidRequest(message, {"sample": [message]})
    drawn = sampling.draw(population, used.strategy, used.size, used.seed, now)
    by_id = {item.id: item for item in population}
    return Draw(used, len(population), [by_id[item_id] for item_id in drawn])


def _check_plans_of(by: Caller, county: str) -> None:
    if not by.sees_county(county):
        raise NotPermitted(f"A city admin of {by.city} plans inspections of its own "
                           "city's counties only.")
