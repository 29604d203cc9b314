"""Read-only queries: item lists, the ledger, the ranking, the public board, metric figures.

Counting is done by the database ($match/$group); the median days to close is finished in
Python from the database's count of closed items per stored ``days_to_close``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from pymongo.database import Database

from services.issues.domain.model import CLOSED, STATUSES, Item
from services.issues.domain.ranking import CountyFigures, Quarter, rank
from services.issues.repository import ITEMS, from_document
from shared import counties

# What a list row never carries: the history (GET /v1/items/{id} has it) and the plumbing.
LIST_PROJECTION = {"history": 0, "outbox": 0, "processed_events": 0, "request_fingerprint": 0}
PAGE_ORDER = [("created_at", 1), ("_id", 1)]
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


def _overdue(today: date) -> dict:
    return {"status": {"$ne": CLOSED}, "deadline": {"$lt": today.isoformat()}}


def _query(f: ItemFilter, today: date) -> list[dict]:
    conditions: list[dict] = [
        {name: value} for name, value in (("county", f.county), ("township", f.township),
                                          ("village", f.village), ("status", f.status),
                                          ("category", f.category)) if value is not None
    ]
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
    docs = list(db[ITEMS].find(_combined(conditions), LIST_PROJECTION)
                .sort(PAGE_ORDER).limit(limit + 1))
    items = [from_document(doc) for doc in docs[:limit]]
    more = len(docs) > limit
    return items, ((items[-1].created_at, items[-1].id) if more else None)


def _count_by(db: Database, match: dict, *keys: str) -> dict:
    group = {k: f"${k}" for k in keys}
    pipeline = [{"$match": match}, {"$group": {"_id": group, "n": {"$sum": 1}}}]
    return {tuple(row["_id"][k] for k in keys) if len(keys) > 1 else row["_id"][keys[0]]: row["n"]
            for row in db[ITEMS].aggregate(pipeline)}


def counts_by_status(db: Database) -> dict[tuple[str, str], int]:
    return _count_by(db, {}, "county", "status")


def overdue_by_county(db: Database, today: date) -> dict[str, int]:
    return _count_by(db, _overdue(today), "county")


def _scope(county: str | None) -> dict:
    return {"county": county} if county else {}


def ledger(db: Database, today: date, county: str | None = None) -> list[dict]:
    """工作台账: per county (all of the city's, or one), the figures of its whole list."""
    scope = _scope(county)
    by_status = _count_by(db, scope, "county", "status")
    overdue = _count_by(db, {**scope, **_overdue(today)}, "county")
    reopened = _count_by(db, {**scope, "reopen_count": {"$gt": 0}}, "county")
    reopenings = {row["_id"]: row["n"] for row in db[ITEMS].aggregate([
        {"$match": {**scope, "reopen_count": {"$gt": 0}}},
        {"$group": {"_id": "$county", "n": {"$sum": "$reopen_count"}}}])}
    # How many items took how many days, per county: few rows, and no $push (FerretDB).
    days_taken = _count_by(db, {**scope, "status": CLOSED, "days_to_close": {"$ne": None}},
                           "county", "days_to_close")
    rows = []
    for code in [county] if county else list(counties.COUNTIES):
        statuses = {s: by_status.get((code, s), 0) for s in STATUSES}
        total = sum(statuses.values())
        closed_days = {d: n for (c, d), n in days_taken.items() if c == code}
        rows.append({
            "county": code, "county_name": counties.name(code), "total": total,
            "by_status": statuses, "overdue": overdue.get(code, 0),
            "reopened": reopened.get(code, 0), "reopenings": reopenings.get(code, 0),
            "closure_rate": round(statuses[CLOSED] / total, 4) if total else None,
            "median_days_to_close": median(closed_days),
        })
    return rows


def median(counts: dict[int, int]) -> float | None:
    """The median of values given as {value: how many times it occurs}."""
    total = sum(counts.values())
    if not total:
        return None

    def nth(index: int) -> int:
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if index < seen:
                return value
        raise IndexError(index)

    return (nth((total - 1) // 2) + nth(total // 2)) / 2


def ranking(db: Database, quarter: Quarter, today: date) -> list[tuple[int | None, CountyFigures]]:
    """The counties ranked on the items due in ``quarter`` (domain/ranking.py has the score)."""
    due = {"deadline": {"$gte": quarter.first_day.isoformat(),
                        "$lt": quarter.next_first_day.isoformat()}}
    total = _count_by(db, due, "county")
    closed = _count_by(db, {**due, "status": CLOSED}, "county")
    overdue = _count_by(db, {"$and": [due, _overdue(today)]}, "county")
    reopened = _count_by(db, {**due, "reopen_count": {"$gt": 0}}, "county")
    return rank([CountyFigures(code, total.get(code, 0), closed.get(code, 0),
                               overdue.get(code, 0), reopened.get(code, 0))
                 for code in counties.COUNTIES])


def board(db: Database, county: str) -> list[dict]:
    """上墙公示: a county's public items, without the responsible person (never even read)."""
    fields = {"_id": 0, "township": 1, "village": 1, "problem": 1, "measure": 1, "deadline": 1,
              "status": 1}
    cursor = db[ITEMS].find({"county": county, "public": True}, fields)
    return list(cursor.sort([("township", 1), ("village", 1), ("deadline", 1)])
                .limit(BOARD_LIMIT))
