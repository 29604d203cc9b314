"""MongoDB adapters: the inspections (with their outbox) and this service's copy of the items.

Each change of an inspection and the events it causes are one insert into the change log
(shared.changelog), guarded by the inspection's version (optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.inspections.domain.model import (
    SCOPED_ROLES,
    Check,
    CopiedItem,
    Filing,
    Inspection,
    NewProblem,
    Sample,
    TeamMember,
)
from shared import divisions, mongo
from shared.changelog import ChangeLog
from shared.domain import Caller

INSPECTIONS, CHANGES, ITEMS = "inspections", "inspection_changes", "items"


class InspectionRepository(Protocol):
    def get(self, inspection_id: str) -> Inspection | None: ...

    def add(self, inspection: Inspection, events: list[dict]) -> bool:
        """Insert with its events; False when an inspection with this id exists already."""

    def save(self, inspection: Inspection, events: list[dict]) -> bool:
        """Record the change that brought ``inspection`` to its version, with its events;
        False when somebody else changed it first (read again, decide again)."""

    def list(self, viewer: Caller, *, status: str | None, target_county: str | None,
             after: tuple[datetime, str] | None, limit: int) -> list[Inspection]:
        """What ``viewer`` may see (rule U), newest planned first, after the cursor position."""


class ItemCopy(Protocol):
    def upsert_newer(self, item: CopiedItem, now: datetime) -> bool:
        """Keep ``item`` unless a version as new or newer is there; True when kept."""

    def upsert_newer_many(self, items: list[CopiedItem], now: datetime) -> list[bool]:
        """``upsert_newer`` of many distinct items at once."""

    def get_many(self, ids: Iterable[str]) -> dict[str, CopiedItem]: ...

    def of_county(self, county: str, statuses: Iterable[str] | None) -> list[CopiedItem]: ...


def ensure_indexes(db: Database) -> None:
    inspections = db[INSPECTIONS]
    inspections.create_index([("planned_at", DESCENDING), ("_id", DESCENDING)])
    inspections.create_index([("team_subs", ASCENDING), ("planned_at", DESCENDING)])
    inspections.create_index([("target_county", ASCENDING), ("announced", ASCENDING)])
    changelog(db).ensure_indexes()
    db[ITEMS].create_index([("county", ASCENDING), ("status", ASCENDING)])


def changelog(db: Database) -> ChangeLog:
    return ChangeLog(db, INSPECTIONS, CHANGES, key="inspection_id", first_version=0)


def scope(viewer: Caller) -> dict | None:
    """Inspection.visible_to in MongoDB terms; None when the viewer may see none at all."""
    if viewer.role == "city_admin":
        return {} if viewer.city is None else {
            "target_county": {"$in": divisions.current().counties_of(viewer.city)}}
    if viewer.role == "inspector":
        return {"team_subs": viewer.sub,
                "$or": [{"target_county": {"$ne": viewer.county}}, {"announced": True}]}
    if viewer.role in SCOPED_ROLES:
        return {"target_county": viewer.county, "announced": True}
    return None


class MongoInspections:
    """Every change of an inspection is an insert of its own into the change log
    (shared.changelog says why, and how a crash between its two writes loses nothing), holding
    the new state and the events it causes; ``inspections`` keeps the current states for queries.
    """

    def __init__(self, db: Database):
        self.log = changelog(db)
        self.collection = self.log.current

    def get(self, inspection_id: str) -> Inspection | None:
        doc = self.log.get(inspection_id)
        return _inspection(doc) if doc else None

    def add(self, inspection: Inspection, events: list[dict]) -> bool:
        return self.log.record(_document(inspection), events)

    def save(self, inspection: Inspection, events: list[dict]) -> bool:
        return self.log.record(_document(inspection), events)

    def list(self, viewer: Caller, *, status: str | None, target_county: str | None,
             after: tuple[datetime, str] | None, limit: int) -> list[Inspection]:
        visible = scope(viewer)
        if visible is None:
            return []
        conditions = [visible]
        if status:
            conditions.append({"status": status})
        if target_county:
            conditions.append({"target_county": target_county})
        if after:
            at, last_id = after
            conditions.append({"$or": [{"planned_at": {"$lt": at}},
                                       {"planned_at": at, "_id": {"$lt": last_id}}]})
        conditions = [c for c in conditions if c]
        query = {"$and": conditions} if len(conditions) > 1 else (conditions or [{}])[0]
        docs = self.collection.find(query).sort(
            [("planned_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [_inspection(d) for d in docs]

    def count_by_status(self) -> dict[str, int]:
        rows = self.collection.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {row["_id"]: row["n"] for row in rows}


class MongoItemCopy:
    def __init__(self, db: Database):
        self.collection = db[ITEMS]

    def upsert_newer(self, item: CopiedItem, now: datetime) -> bool:
        fields = _item_document(item)
        del fields["_id"]
        try:
            # An older or equal version in place makes the filter miss and the upsert collide
            # with the existing id: the snapshot is stale or repeated, so nothing changes.
            self.collection.update_one({"_id": item.id, "version": {"$lt": item.version}},
                                       {"$set": {**fields, "copy_updated_at": now}}, upsert=True)
        except DuplicateKeyError:
            return False
        return True

    def upsert_newer_many(self, items: list[CopiedItem], now: datetime) -> list[bool]:
        # One guarded upsert each, a few at once: distinct items, so no two touch one document.
        return mongo.concurrently(lambda item: self.upsert_newer(item, now), items)

    def get_many(self, ids: Iterable[str]) -> dict[str, CopiedItem]:
        # A read by id each, a few at once: FerretDB answers an $in on _id by reading the whole
        # copy (a filing of 50 checks waited seconds for it with 6,000 items copied).
        docs = mongo.concurrently(lambda id_: self.collection.find_one({"_id": id_}),
                                  dict.fromkeys(ids))
        return {d["_id"]: _copied_item(d) for d in docs if d is not None}

    def of_county(self, county: str, statuses: Iterable[str] | None) -> list[CopiedItem]:
        query: dict = {"county": county}
        if statuses:
            query["status"] = {"$in": list(statuses)}
        return [_copied_item(d) for d in self.collection.find(query)]


# --- mapping ------------------------------------------------------------------------------

def _document(inspection: Inspection) -> dict:
    doc = {
        "_id": inspection.id,
        "target_county": inspection.target_county,
        "kind": inspection.kind,
        "team": [asdict(m) for m in inspection.team],
        "team_subs": [m.sub for m in inspection.team],  # what the list query matches on
        "announced": inspection.announced,  # rule U, queryable
        "window_start": inspection.window_start,
        "window_end": inspection.window_end,
        "item_ids": list(inspection.item_ids),
        "sample": asdict(inspection.sample) if inspection.sample else None,
        "planned_by": inspection.planned_by,
        "planned_at": inspection.planned_at,
        "status": inspection.status,
        "started_at": inspection.started_at,
        "started_by": inspection.started_by,
        "completed_at": inspection.completed_at,
        "cancelled_at": inspection.cancelled_at,
        "cancelled_by": inspection.cancelled_by,
        "cancel_reason": inspection.cancel_reason,
        "checks": [asdict(c) for c in inspection.checks],
        "new_problems": [asdict(p) for p in inspection.new_problems],
        "filing": asdict(inspection.filing) if inspection.filing else None,
        "fingerprint": inspection.fingerprint,
        "version": inspection.version,
    }
    if doc["sample"] and doc["sample"]["status"] is not None:
        doc["sample"]["status"] = list(doc["sample"]["status"])
    for check in doc["checks"]:
        check["evidence"] = list(check["evidence"])
    return doc


def _inspection(doc: dict) -> Inspection:
    sample = doc.get("sample")
    return Inspection(
        id=doc["_id"], target_county=doc["target_county"], kind=doc["kind"],
        team=[TeamMember(**m) for m in doc["team"]],
        window_start=doc["window_start"], window_end=doc["window_end"],
        item_ids=list(doc["item_ids"]), planned_by=doc["planned_by"],
        planned_at=doc["planned_at"],
        sample=Sample(strategy=sample["strategy"], size=sample["size"], seed=sample["seed"],
                      status=tuple(sample["status"]) if sample.get("status") else None)
        if sample else None,
        status=doc["status"], started_at=doc.get("started_at"), started_by=doc.get("started_by"),
        completed_at=doc.get("completed_at"), cancelled_at=doc.get("cancelled_at"),
        cancelled_by=doc.get("cancelled_by"), cancel_reason=doc.get("cancel_reason"),
        checks=[Check(item_id=c["item_id"], outcome=c["outcome"], observed_at=c["observed_at"],
                      findings=c.get("findings"), evidence=tuple(c.get("evidence") or ()))
                for c in doc.get("checks") or []],
        new_problems=[NewProblem(**p) for p in doc.get("new_problems") or []],
        filing=Filing(**doc["filing"]) if doc.get("filing") else None,
        fingerprint=doc.get("fingerprint"), version=doc["version"],
    )


def _item_document(item: CopiedItem) -> dict:
    doc = asdict(item)
    doc["_id"] = doc.pop("id")
    doc["deadline"] = item.deadline.isoformat()  # ISO dates sort as text
    return doc


def _copied_item(doc: dict) -> CopiedItem:
    return CopiedItem(
        id=doc["_id"], county=doc["county"], township=doc["township"], village=doc["village"],
        problem=doc["problem"], measure=doc["measure"],
        deadline=date.fromisoformat(doc["deadline"]), status=doc["status"],
        reopen_count=doc["reopen_count"], overdue=doc["overdue"],
        overdue_count=doc["overdue_count"], closed_at=doc.get("closed_at"),
        version=doc["version"])
