"""Items in MongoDB, through the change log (shared.changelog says why).

Every change of an item is one insert into ``item_changes`` (id ``<item>:<version>``) holding the
item's new state, with its history and the ids of the events applied to it, and the events the
change causes (its outbox). The unique id is the optimistic-concurrency guard: of two changes
decided on the same version one is recorded, the other is told to read again. ``items`` keeps
each item's current state for the lists, the reports and the overdue scan.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.issues.domain import figures, list_keys
from services.issues.domain.cities import city_rows
from services.issues.domain.figures import Counted
from services.issues.domain.model import CLOSED, Item
from services.issues.domain.ranking import CountyFigures, Quarter, rank
from shared import clock, divisions, mongo
from shared.changelog import INSERT_CHUNK, ChangeLog

ITEMS, CHANGES = "items", "item_changes"
IMPORTS = "imports"  # one record per import sent with an Idempotency-Key
# A marker per creation bucket that holds items (list_keys.CREATED: month, day, hour, minute,
# each naming the bucket it is in) and per month of a deadline, inserted before the first item
# of it and never removed: the buckets a list walks through, and the months it asks for.
MARKERS = "item_buckets"
CREATION_MARKED = list_keys.CREATED
MARKED = (*CREATION_MARKED, "deadline_month")
CHANGEABLE = ("deadline_month",)  # what a change can make new: the creation time stays
KEYS_FILLED = "list_keys_filled"  # in MARKERS: the items stored before the keys were given them
APPLIED_EVENTS = "processed_events"  # the ids of the events applied to the item, carried along
FINGERPRINT = "request_fingerprint"  # of the request that created the item (Idempotency-Key)


class ItemRepository(Protocol):
    def get(self, item_id: str) -> Item | None: ...

    def fingerprint(self, item_id: str) -> str | None: ...

    def claim_import(self, import_id: str, fingerprint: str) -> str | None: ...

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool: ...

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None: ...

    def save(self, item: Item, events: list[dict]) -> bool:
        """Record the change that brought ``item`` to its version, decided on the version before;
        False when somebody else changed it first (read again, decide again)."""

    def overdue_candidates(self, today: date, limit: int) -> list[Item]: ...

    def current_of(self, item_ids: list[str]) -> dict[str, Item]:
        """Many items as the current states have them (a moment behind at worst)."""

    def save_many(self, batch: list[tuple[Item, list[dict]]]) -> list[bool]:
        """``save`` for many changes at once, those of one item in order; a change after a
        refused one is refused too."""


def to_document(item: Item, fingerprint: str | None = None) -> dict:
    """The item's state as stored: in its change and, less the fingerprint, as current."""
    doc = {name: value for name, value in vars(item).items() if name != "id"}
    doc["_id"] = item.id
    doc[APPLIED_EVENTS] = list(item.processed_events)
    if fingerprint is not None:
        doc[FINGERPRINT] = fingerprint
    doc["deadline"] = item.deadline.isoformat()  # ISO dates sort as strings
    if item.overdue_announced_for is not None:
        doc["overdue_announced_for"] = item.overdue_announced_for.isoformat()
    doc.update(list_keys.list_keys(item))
    return doc


def markers_of(docs: list[dict], kinds: tuple[str, ...] = MARKED) -> dict[str, dict]:
    parents = dict(zip(CREATION_MARKED[1:], CREATION_MARKED, strict=False))
    return {f"{kind}:{doc[kind]}": {"_id": f"{kind}:{doc[kind]}", "kind": kind,
                                    "value": doc[kind],
                                    "parent": doc[parents[kind]] if kind in parents else None}
            for doc in docs for kind in kinds}


def from_document(doc: dict) -> Item:
    announced = doc.get("overdue_announced_for")
    return Item(
        id=doc["_id"], county=doc["county"], township=doc["township"], village=doc["village"],
        problem=doc["problem"], measure=doc["measure"],
        deadline=date.fromisoformat(doc["deadline"]), created_at=doc["created_at"],
        updated_at=doc["updated_at"], responsible=doc.get("responsible"),
        category=doc.get("category"), public=doc.get("public", False), status=doc["status"],
        version=doc["version"], reopen_count=doc.get("reopen_count", 0),
        overdue_count=doc.get("overdue_count", 0),
        overdue_announced_for=date.fromisoformat(announced) if announced else None,
        closed_at=doc.get("closed_at"), days_to_close=doc.get("days_to_close"),
        inspection_id=doc.get("inspection_id"), village_code=doc.get("village_code"),
        history=doc.get("history", []),
        processed_events=doc.get(APPLIED_EVENTS, []),
    )


def changelog(db: Database) -> ChangeLog:
    return ChangeLog(db, ITEMS, CHANGES, key="item_id")


class MongoItemRepository:
    def __init__(self, db: Database):
        self.log = changelog(db)
        self.items: Collection = self.log.current
        self.imports: Collection = db[IMPORTS]
        self.markers: Collection = db[MARKERS]
        self.marked: set[str] = set()  # markers known to exist (never removed)

    def get(self, item_id: str) -> Item | None:
        doc = self.log.get(item_id)
        return from_document(doc) if doc else None

    def fingerprint(self, item_id: str) -> str | None:
        """The fingerprint of the request that created the item, kept with its first change."""
        created = self.log.at(item_id, 1) or self.items.find_one({"_id": item_id}) or {}
        return created.get(FINGERPRINT)

    def claim_import(self, import_id: str, fingerprint: str) -> str | None:
        """Record an import under its Idempotency-Key; answer the fingerprint of the file
        recorded under it before, or None if this is the first time."""
        try:
            self.imports.insert_one({"_id": import_id, FINGERPRINT: fingerprint})
        except DuplicateKeyError:
            return self.imports.find_one({"_id": import_id})[FINGERPRINT]
        return None

    def add(self, item: Item, events: list[dict], *, fingerprint: str | None = None) -> bool:
        """Record a new item with its events; False when the id is taken (a retry)."""
        return self.log.record(self._marked(to_document(item, fingerprint)), events)

    def add_many(self, batch: list[tuple[Item, list[dict]]]) -> None:
        """Record many new items (an import); an id already there is from an earlier attempt of
        the same import (same key, same file), and is kept as it is."""
        docs = [to_document(item) for item, _ in batch]
        self._mark(docs)
        self.log.record_new(zip(docs, (events for _, events in batch), strict=True))

    def save(self, item: Item, events: list[dict]) -> bool:
        return self.log.record(self._marked(to_document(item), CHANGEABLE), events)

    def current_of(self, item_ids: list[str]) -> dict[str, Item]:
        return {id_: from_document(doc) for id_, doc in self.log.current_of(item_ids).items()}

    def save_many(self, batch: list[tuple[Item, list[dict]]]) -> list[bool]:
        docs = [to_document(item) for item, _ in batch]
        self._mark(docs, CHANGEABLE)
        return self.log.record_many(list(zip(docs, (events for _, events in batch),
                                             strict=True)))

    def _mark(self, docs: list[dict], kinds: tuple[str, ...] = MARKED) -> None:
        """The buckets and months of these items marked, before the items are written: a list
        never misses an item for want of a marker."""
        new = {id_: marker for id_, marker in markers_of(docs, kinds).items()
               if id_ not in self.marked}
        mongo.insert_new(self.markers, list(new.values()))
        self.marked.update(new)

    def _marked(self, doc: dict, kinds: tuple[str, ...] = MARKED) -> dict:
        self._mark([doc], kinds)
        return doc

    def overdue_candidates(self, today: date, limit: int) -> list[Item]:
        """Items past their deadline, not closed, whose deadline was not yet announced, by
        deadline: month by month by their overdue key (list_keys), which FerretDB hands its
        storage, so a scan decodes the unannounced items due up to this month, not all."""
        found: list[Item] = []
        current = list_keys.month(today)
        for month in marked(self.items.database, "deadline_month"):
            if month > current or len(found) >= limit:
                break
            cursor = self.items.find({"overdue_key": list_keys.due(month),
                                      "deadline": {"$lt": today.isoformat()}})
            found += [from_document(doc) for doc in
                      cursor.sort("deadline", ASCENDING).limit(limit - len(found))]
        return found


INDEXES: dict[str, list[tuple[str, int]]] = {
    "page": [("created_at", ASCENDING), ("_id", ASCENDING)],
    "county_page": [("county", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    "county_status": [("county", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING),
                      ("_id", ASCENDING)],
    "county_place": [("county", ASCENDING), ("township", ASCENDING), ("village", ASCENDING)],
    "status_deadline": [("status", ASCENDING), ("deadline", ASCENDING)],
    "county_deadline": [("county", ASCENDING), ("deadline", ASCENDING)],
    "overdue_scan": [("overdue_announced_for", ASCENDING), ("deadline", ASCENDING)],
    "category": [("category", ASCENDING)],
    "updated": [("updated_at", DESCENDING)],
    "board": [("county", ASCENDING), ("public", ASCENDING)],
    # First in an index of their own too, for their GIN twins: a place's list asks PostgreSQL
    # for its county, township and village at once.
    "township_page": [("township", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    "village_page": [("village", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    # The kept keys of the lists (domain/list_keys.py), each first in an index of its own: on
    # FerretDB that gives it a GIN twin (docs/local-stack.md), on MongoDB it serves the read of
    # a bucket in page order.
    **{f"{key}_page": [(key, ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]
       for key in list_keys.KEYS},
}


def ensure_indexes(db: Database) -> None:
    """Indexes for every list filter, keyset pagination on (created_at, _id), and the scans."""
    items = db[ITEMS]
    # One call per index: FerretDB drops the connection when one createIndexes call names
    # several indexes that all exist already (every start after the first).
    for name, keys in INDEXES.items():
        items.create_index(keys, name=name)
    db[MARKERS].create_index([("kind", ASCENDING)], name="kind")
    db[MARKERS].create_index([("parent", ASCENDING)], name="parent")
    changelog(db).ensure_indexes()
    if db[MARKERS].find_one({"_id": KEYS_FILLED}) is None:
        fill_list_keys(db)
    ensure_figure_indexes(db)


def fill_list_keys(db: Database) -> int:
    """Give every item the list keys its state makes (domain/list_keys.py) where it lacks them
    or they differ, and mark their months; answer how many items changed. For the items stored
    before the keys were kept: once by the first start after (ensure_indexes), again whenever
    ``python -m services.issues.backfill`` is run. Each write is guarded by the version read,
    so a change recorded meanwhile (which has its keys) is not written over."""
    items = db[ITEMS]
    updates, markers = [], {}
    for doc in items.find({}, {"outbox": 0}):
        keys = list_keys.list_keys(from_document(doc))
        markers.update(markers_of([keys]))
        if any(doc.get(name) != value for name, value in keys.items()):
            updates.append(UpdateOne({"_id": doc["_id"], "version": doc["version"]},
                                     {"$set": keys}))
    mongo.insert_new(db[MARKERS], list(markers.values()))
    for start in range(0, len(updates), INSERT_CHUNK):
        items.bulk_write(updates[start:start + INSERT_CHUNK], ordered=False)
    mongo.insert_new(db[MARKERS], [{"_id": KEYS_FILLED, "kind": "done"}])
    return len(updates)

# --- Reads: the lists and the board from the items, the reports from the kept figures. --------

# What a list row never carries: the history (GET /v1/items/{id} has it) and the plumbing.
LIST_PROJECTION = {"history": 0, "outbox": 0, "processed_events": 0, "request_fingerprint": 0,
                   "tokens": 0}
BOARD_LIMIT = 5000


@dataclass(frozen=True)
class ItemFilter:
    county: str | None = None
    township: str | None = None
    village: str | None = None
    status: str | None = None
    overdue: bool | None = None
    category: str | None = None
    q: str | None = None
    deadline_before: date | None = None
    updated_since: datetime | None = None
    counties: tuple[str, ...] | None = None  # one of these (a city admin's city)


def _overdue(today: date) -> dict:
    return {"status": {"$ne": CLOSED}, "deadline": {"$lt": today.isoformat()}}


def _query(f: ItemFilter, today: date) -> list[dict]:
    conditions: list[dict] = [
        {name: value} for name, value in (("county", f.county), ("township", f.township),
                                          ("village", f.village), ("status", f.status),
                                          ("category", f.category)) if value is not None
    ]
    if f.counties is not None:
        conditions.append({"county": {"$in": list(f.counties)}})
    if f.overdue is True:
        conditions.append(_overdue(today))
    elif f.overdue is False:
        conditions.append({"$or": [{"status": CLOSED},
                                   {"deadline": {"$gte": today.isoformat()}}]})
    if f.q:
        text = {"$regex": re.escape(f.q)}
        conditions.append({"$or": [{"problem": text}, {"measure": text}, {"village": text}]})
    if f.deadline_before is not None:
        conditions.append({"deadline": {"$lt": f.deadline_before.isoformat()}})
    if f.updated_since is not None:
        conditions.append({"updated_at": {"$gte": f.updated_since}})
    return conditions


def _combined(conditions: list[dict]) -> dict:
    """All the conditions as one filter: plain equalities at its top level, the rest under
    ``$and``. The same filter to MongoDB; FerretDB hands only top-level equalities to its
    storage, so under ``$and`` even a county's list read and decoded every item."""
    query: dict = {}
    rest = []
    for condition in conditions:
        field, value = next(iter(condition.items()))
        if len(condition) == 1 and not field.startswith("$") and not isinstance(value, dict) \
                and field not in query:
            query[field] = value
        else:
            rest.append(condition)
    if rest:
        query["$and"] = rest
    return query


# A bucket with this many items of a list's equalities is read by its finer ones; with several
# sets of equalities (alternatives), each gets its share, and at least MIN_PROBE.
PROBE, MIN_PROBE = 100, 10
FINEST = len(list_keys.CREATED) - 1


def _alternatives(f: ItemFilter, today: date, now: datetime, months: Callable[[str], list[str]]
                  ) -> list[dict]:
    """Sets of equalities on the kept keys (domain/list_keys.py), one of which every item the
    filter selects has: the filter's ranges and text asked for by equality. The filter's own
    conditions still decide; these only select what FerretDB decodes for them."""
    choices: list[list[dict]] = [[{}]]
    if f.counties is not None:
        cities = {divisions.current().city_of(county) for county in f.counties}
        if len(cities) == 1:
            choices.append([{"city": cities.pop()}])
    if f.q and len(f.q) > 1:
        choices.append([{"tokens": list_keys.search_token(f.q)}])
    current = list_keys.month(today)
    if f.overdue is True:
        choices.append([{"overdue_key": list_keys.ANNOUNCED}] + [
            {"overdue_key": list_keys.due(m)} for m in months("deadline_month") if m <= current])
    elif f.overdue is False:
        choices.append([{"overdue_key": list_keys.CLOSED_KEY}] + [
            {"overdue_key": list_keys.due(m)} for m in months("deadline_month") if m >= current])
    if f.deadline_before is not None:
        last = list_keys.month(f.deadline_before)
        choices.append([{"deadline_month": m} for m in months("deadline_month") if m <= last])
    if f.updated_since is not None:
        created = months(list_keys.CREATED[0])
        choices.append(list_keys.updated_since(f.updated_since, now, created[0]) if created
                       else [])  # no item was ever created: none was updated
    return [{k: v for part in parts for k, v in part.items()}
            for parts in itertools.product(*choices)]


def _order(doc: dict) -> tuple:
    return doc["created_at"], doc["_id"]


class _Walk:
    """A list's reads, creation bucket by creation bucket (list_keys.CREATED). A bucket is
    first asked, by each alternative's equalities alone, for its share of PROBE items: fewer,
    and the filter is asked of it whole; as many, and it is read by its finer buckets; the
    finest are asked whole at once.
    On FerretDB, which decodes what the equalities select and stops at a find's limit, a read
    decodes at most PROBE items (or a minute's, see list_keys), never the collection; on
    MongoDB the compound indexes starting with the same equalities serve each read. A next
    page starts in the buckets of the cursor (``start``): those before hold nothing after it."""

    def __init__(self, items: Collection, conditions: list[dict], start: tuple | None):
        self.items = items
        self.conditions = conditions
        self.start = start

    def query(self, equalities: dict) -> dict:
        return _combined([*({k: v} for k, v in equalities.items()), *self.conditions])

    def read(self, equalities: dict, probe: int | None) -> list[dict] | None:
        """The bucket's matching items, or None if its equalities select ``probe`` or more. A
        filter of equalities only is read once, with the limit; another is read whole after a
        probe of its equalities alone (its other conditions would let FerretDB decode more
        than the limit before it had as many)."""
        query = self.query(equalities)
        if probe is None:
            return list(self.items.find(query, LIST_PROJECTION))
        if "$and" not in query:
            found = list(self.items.find(query, LIST_PROJECTION).limit(probe))
            return found if len(found) < probe else None
        if len(list(self.items.find({k: v for k, v in query.items() if k != "$and"},
                                    {"_id": 1}).limit(probe))) == probe:
            return None
        return list(self.items.find(query, LIST_PROJECTION))

    def segments(self, level: int, bucket: str | None, alternatives: list[dict],
                 known: list[dict]) -> Iterator[list[dict]]:
        """The matching items of ``bucket`` (level -1: all of them) in order, in pieces each
        complete and after the one before; ``known`` holds those of the alternatives that were
        read in full one level up."""
        rows, larger = list(known), []
        key = {list_keys.CREATED[level]: bucket} if level >= 0 else {}
        probe = max(PROBE // len(alternatives), MIN_PROBE)
        for alternative in alternatives:
            found = self.read({**alternative, **key}, None if level == FINEST else probe)
            if found is None:
                larger.append(alternative)
            else:
                rows += found
        if not larger:
            yield sorted(rows, key=_order)
            return
        for child in self.children(level, bucket):
            if self.start is None or child >= self.start[level + 1]:
                yield from self.segments(level + 1, child, larger, [
                    row for row in rows
                    if list_keys.created_buckets(row["created_at"])[level + 1] == child])

    def children(self, level: int, bucket: str | None) -> list[str]:
        """The buckets within ``bucket`` that hold items, by their markers."""
        return marked(self.items.database, list_keys.CREATED[level + 1], bucket)


def marked(db: Database, kind: str, parent: str | None = None) -> list[str]:
    """The markers of a kind (MARKED) in order, those within ``parent`` for the finer creation
    buckets: a few hundred at most."""
    query = {"kind": kind} if parent is None else {"kind": kind, "parent": parent}
    return sorted(m["value"] for m in db[MARKERS].find(query))


def list_items(db: Database, f: ItemFilter, today: date, *, limit: int,
               after: tuple[datetime, str] | None = None) -> tuple[list[Item], tuple | None]:
    """One page in (created_at, id) order, and the position after it if there may be more.

    Keyset paging on a unique key: items created while a client pages through appear after
    the pages already served, and nothing is served twice or skipped.
    """
    conditions = _query(f, today)
    if after is not None:
        created, item_id = after
        conditions.append({"$or": [{"created_at": {"$gt": created}},
                                   {"created_at": created, "_id": {"$gt": item_id}}]})
    # Each kind of month marker read once a request, however many of the filters ask for it.
    alternatives = _alternatives(f, today, clock.now(),
                                 functools.cache(lambda kind: marked(db, kind)))
    walk = _Walk(db[ITEMS], conditions,
                 list_keys.created_buckets(after[0]) if after is not None else None)
    docs: list[dict] = []
    if alternatives:
        for segment in walk.segments(-1, None, alternatives, []):
            docs += segment
            if len(docs) > limit:
                break
    items = [from_document(doc) for doc in docs[:limit]]
    more = len(docs) > limit
    return items, ((items[-1].created_at, items[-1].id) if more else None)


def board(db: Database, county: str) -> list[dict]:
    """上墙公示: a county's public items, without the responsible person (never even read)."""
    fields = {"_id": 0, "township": 1, "village": 1, "problem": 1, "measure": 1, "deadline": 1,
              "status": 1}
    cursor = db[ITEMS].find({"county": county, "public": True}, fields)
    return list(cursor.sort([("township", 1), ("village", 1), ("deadline", 1)])
                .limit(BOARD_LIMIT))


def county_figures(db: Database, today: date, county: str | None = None) -> dict[str, dict]:
    """Each county's summary as of ``today`` (domain/figures.py), all the counties' or one's:
    the one document the figures process keeps, whatever the number of items; where it is
    missing or of another day, summed from the tallies."""
    store = MongoFigures(db)
    kept = store.summaries(today)
    if kept is None:
        kept = {code: figures.summary(tally, today)
                for code, tally in figures.by_county(store.tallies(county)).items()}
    return {code: row for code, row in kept.items() if county in (None, code)}


@dataclass(frozen=True)
class Reports:
    """The ledger, its cities' rows and the ranking, from one read of the kept figures."""

    kept: dict[str, dict]
    county: str | None = None  # the reports of one county only

    def ledger(self) -> list[dict]:
        """工作台账: per county (every one of the region, or the one), the figures of its list."""
        region = divisions.current()
        return [{**figures.ledger_row(code, self.kept.get(code) or NOTHING),
                 "county_name": region.county_name(code)}
                for code in ([self.county] if self.county else list(region.counties))]

    def cities(self, city: str | None = None) -> list[dict]:
        """工作台账 of the cities: each city's (or one city's) counties summed."""
        return city_rows(self.kept, divisions.current(), city)

    def ranking(self, quarter: Quarter) -> list[tuple[int | None, CountyFigures]]:
        """The counties ranked on the items due in ``quarter`` (domain/ranking.py: the score)."""
        return rank([figures.quarter_figures(code, self.kept.get(code) or NOTHING, quarter)
                     for code in divisions.current().counties])


def reports(db: Database, today: date, county: str | None = None) -> Reports:
    return Reports(county_figures(db, today, county), county)


# --- The kept figures (services/issues/figures.py keeps them; docs/figures.md says why). ------

FIGURES = "figures"  # one tally per (county, partition of the issues topic), with its position
# Every county's summary, one document, set by the figures process (its lease holder). As JSON
# text: FerretDB 1.24 decodes a nested document field by field (540 tallies of 110 deadline
# days each took 12 s to read; as text, 0.46 s), one string at once.
SUMMARIES = "figures_summaries"
TALLY_FIELDS = tuple(figures.empty_tally())
NOTHING = figures.summary(figures.empty_tally(), date.min)
COUNTED = "figures_counted"  # per item: what it counts for in the figures, at which version
COUNTED_FIELDS = {"county": 1, "version": 1, "status": 1, "deadline": 1, "reopen_count": 1,
                  "days_to_close": 1, "created_at": 1, "closed_at": 1}


def tally_id(partition: int, county: str) -> str:
    return f"{partition}:{county}"


def _packed(tally: dict) -> dict:
    """A tally as stored: its figures as one JSON text (see SUMMARIES), the rest as fields."""
    fields = {name: value for name, value in tally.items() if name not in TALLY_FIELDS}
    return {**fields, "tally": json.dumps({name: tally[name] for name in TALLY_FIELDS})}


def _unpacked(doc: dict) -> dict:
    return {**{k: v for k, v in doc.items() if k != "tally"}, **json.loads(doc["tally"])}


class MongoFigures:
    """The tallies and what each item counts for. Only the owner of a partition of the issues
    topic writes that partition's tallies, and the items keyed to it (one writer a document:
    FerretDB loses concurrent updates of one)."""

    def __init__(self, db: Database):
        self.tallies_ = db[FIGURES]
        self.counted_ = db[COUNTED]
        self.summaries_ = db[SUMMARIES]
        self.items = db[ITEMS]

    def summaries(self, today: date) -> dict[str, dict] | None:
        """Every county's summary as of ``today``, if kept for that day."""
        doc = self.summaries_.find_one({"_id": "region"})
        return json.loads(doc["counties"]) if doc and doc["as_of"] == today.isoformat() else None

    def summarise(self, today: date) -> dict[str, dict]:
        """Sum the tallies into every county's summary as of ``today``, keep it for the
        reports, and answer it (the figures process's lease holder, every few seconds)."""
        summaries = {code: figures.summary(tally, today)
                     for code, tally in figures.by_county(self.tallies()).items()}
        self.summaries_.replace_one({"_id": "region"}, {"as_of": today.isoformat(),
                                                        "counties": json.dumps(summaries)},
                                    upsert=True)
        return summaries

    def tallies(self, county: str | None = None) -> list[dict]:
        return [_unpacked(doc) for doc in self.tallies_.find(
            {"county": county} if county else {}, {"position": 0, "partition": 0})]

    def partition_tallies(self, partition: int, county_codes: set[str]) -> dict[str, dict]:
        """The partition's tallies of these counties (with their positions), those kept."""
        docs = mongo.concurrently(lambda code: self.tallies_.find_one(
            {"_id": tally_id(partition, code)}), county_codes)
        return {doc["county"]: _unpacked(doc) for doc in docs if doc is not None}

    def counted(self, item_ids: set[str]) -> dict[str, Counted]:
        docs = mongo.concurrently(lambda item_id: self.counted_.find_one({"_id": item_id}),
                                  item_ids)
        return {doc["_id"]: Counted.from_document(doc) for doc in docs if doc is not None}

    def save_tallies(self, tallies: list[tuple[dict, int | None]]) -> bool:
        """Write each tally unless its position moved since it was read at ``read_at`` (None:
        it was not there); False when one had moved (another writer got there first). Each
        write stands alone (a tally written before another's refusal holds what it folded), so
        they go eight at a time."""
        def save(entry: tuple[dict, int | None]) -> bool:
            tally, read_at = entry
            if read_at is None:
                try:
                    self.tallies_.insert_one(_packed(tally))
                except DuplicateKeyError:
                    return False
                return True
            return bool(self.tallies_.replace_one({"_id": tally["_id"], "position": read_at},
                                                  _packed(tally)).matched_count)

        return all(mongo.concurrently(save, tallies))

    def keep_counted(self, counted: dict[str, Counted]) -> None:
        """Record what the items count for now, never going back to an older version; the
        items are distinct documents, so eight at a time."""
        def keep(entry: tuple[str, Counted]) -> None:
            item_id, item = entry
            with contextlib.suppress(DuplicateKeyError):
                self.counted_.update_one({"_id": item_id, "version": {"$lt": item.version}},
                                         {"$set": item.as_document()}, upsert=True)

        mongo.concurrently(keep, counted.items())

    def recount(self) -> dict[str, dict]:
        """The figures counted afresh from every item, per county (the operator's check)."""
        return figures.by_county(self._recounted(lambda _: 0).values())

    def rebuild(self, partition_of: Callable[[str], int]) -> int:
        """Count every item afresh into tallies of the partition its events go to, and record
        what each counts for; answer how many items. Run with the figures process stopped: it
        replaces what that process keeps. Events still to come are applied on top, those of a
        version already counted are recognised as such."""
        counted: dict[str, Counted] = {}
        tallies = self._recounted(partition_of, counted)
        self.summaries_.delete_many({})
        self.tallies_.delete_many({})
        self.counted_.delete_many({})
        docs = [{"_id": item_id, **item.as_document()} for item_id, item in counted.items()]
        for start in range(0, len(docs), INSERT_CHUNK):
            self.counted_.insert_many(docs[start:start + INSERT_CHUNK])
        if tallies:
            self.tallies_.insert_many([_packed(tally) for tally in tallies.values()])
        return len(counted)

    def _recounted(self, partition_of: Callable[[str], int],
                   counted: dict[str, Counted] | None = None) -> dict[str, dict]:
        tallies: dict[str, dict] = {}
        for doc in self.items.find({}, COUNTED_FIELDS):
            item = Counted.of(doc)
            partition = partition_of(doc["_id"])
            key = tally_id(partition, item.county)
            tally = tallies.setdefault(key, {"_id": key, "partition": partition,
                                             "county": item.county, "position": 0,
                                             **figures.empty_tally()})
            figures.count(tally, item, 1)
            if counted is not None:
                counted[doc["_id"]] = item
        return tallies


def ensure_figure_indexes(db: Database) -> None:
    mongo.ensure_indexes(db[FIGURES], [IndexModel([("county", ASCENDING)])])
