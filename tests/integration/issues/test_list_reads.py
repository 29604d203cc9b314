"""What a list reads on the real database: every filter's pages are the rows a plain sorted
query gives, and a first page reads bucket by bucket, so FerretDB 1.24 (which hands PostgreSQL
nothing but top-level equalities and decodes everything they select, up to the find's limit)
decodes a bounded part of a collection of thousands of items, whatever the filter."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pymongo import MongoClient

from services.issues.domain import list_keys
from services.issues.domain.model import CLOSED, STATUSES, Caller, Item
from services.issues.repository import (
    ITEMS,
    MARKERS,
    PROBE,
    ItemFilter,
    MongoItemRepository,
    _combined,
    _query,
    ensure_indexes,
    fill_list_keys,
    list_items,
)
from shared import mongo
from tests.integration.issues.conftest import KEQIAO, YUECHENG
from tests.support import Finds, equalities

TODAY = date(2026, 3, 10)
START = datetime(2026, 1, 1, tzinfo=UTC)
COUNT = 2000
SHANGYU = "330604"
FILTERS = {
    "none": ItemFilter(),
    "county": ItemFilter(county=KEQIAO),
    "county+status": ItemFilter(county=KEQIAO, status="in_progress"),
    "place": ItemFilter(county=YUECHENG, township="灵芝镇", village="第7村"),
    "status": ItemFilter(status="reopened"),
    "overdue": ItemFilter(overdue=True),
    "not overdue": ItemFilter(overdue=False),
    "category": ItemFilter(category="软弱落后"),
    "q": ItemFilter(q="承诺书"),
    "q, one character": ItemFilter(q="台"),
    "deadline_before": ItemFilter(deadline_before=TODAY - timedelta(days=20)),
    "updated_since": ItemFilter(updated_since=START + timedelta(days=40, hours=5)),
    "city": ItemFilter(counties=(YUECHENG, KEQIAO, SHANGYU)),
    "overdue in a county": ItemFilter(county=YUECHENG, overdue=True),
}


def decoded(items, finds: list[tuple[dict, int]]) -> int:
    """What FerretDB decodes for these finds: what each one's equalities select, no more than
    its limit (it stops there)."""
    return sum(min(items.count_documents(equalities(query)), limit or COUNT)
               for query, limit in finds)


def stored_items() -> list[tuple[Item, list]]:
    rng = random.Random(7)
    city = Caller("test", "city_admin")
    batch = []
    for n in range(COUNT):
        # One item every 5 s (12 a minute) in five runs ten days apart, the last 200 at one
        # instant (an import).
        at = START + timedelta(days=n // 400 * 10, seconds=5 * n if n < 1800 else 9000)
        item, _ = Item.create(
            id=f"item-{n:05d}", actor=city, at=at, county=rng.choice([YUECHENG, KEQIAO, SHANGYU]),
            township=rng.choice(["灵芝镇", "钱清镇"]), village=f"第{rng.randrange(20)}村",
            problem=rng.choice(["党员不配合无违建村创建", "三会一课制度落实不到位",
                                "村务公开不及时"]),
            measure=rng.choice(["写出承诺书并公示", "建立台账每月公示", "按月公开村务"]),
            deadline=TODAY + timedelta(days=rng.randrange(-90, 60)),
            category=rng.choice(["软弱落后", "组织建设", None]))
        item.status = rng.choice(STATUSES)
        if item.status != CLOSED and item.deadline < TODAY and rng.random() < 0.5:
            item.overdue_announced_for = item.deadline  # as the scheduler does
        item.updated_at = at + timedelta(days=rng.randrange(60))
        batch.append((item, []))
    return batch


@pytest.fixture(scope="module")
def stored(base_settings):
    settings = dataclasses.replace(base_settings, database_prefix=f"tl{uuid.uuid4().hex[:10]}")
    db = mongo.database(settings, "issues")
    ensure_indexes(db)
    MongoItemRepository(db).add_many(stored_items())
    finds = Finds()
    client = MongoClient(settings.mongodb_uri, tz_aware=True, event_listeners=[finds])
    yield db, client[db.name], finds
    client.close()
    mongo.client(settings.mongodb_uri).drop_database(db.name)


def plain(db, f: ItemFilter) -> list[str]:
    """The rows of a filter as one sorted query gives them (what the lists served before)."""
    return [doc["_id"] for doc in db[ITEMS].find(_combined(_query(f, TODAY)), {"_id": 1})
            .sort([("created_at", 1), ("_id", 1)])]


def paged(db, f: ItemFilter, limit: int) -> list[str]:
    seen, after = [], None
    while True:
        page, after = list_items(db, f, TODAY, limit=limit, after=after)
        seen += [item.id for item in page]
        if after is None:
            return seen


@pytest.mark.parametrize("name", list(FILTERS))
def test_every_filter_pages_through_the_rows_a_sorted_query_gives(stored, name):
    db, _, _ = stored
    expected = plain(db, FILTERS[name])
    assert expected, "the filter selects nothing in the test's items"
    assert paged(db, FILTERS[name], 97) == expected
    first, after = list_items(db, FILTERS[name], TODAY, limit=5)
    second, _ = list_items(db, FILTERS[name], TODAY, limit=5, after=after)
    assert [i.id for i in first + second] == expected[:10]


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_first_page_decodes_a_bounded_part_of_the_collection(stored, name):
    db, watched, finds = stored
    finds.finds.clear()
    page, _ = list_items(watched, FILTERS[name], TODAY, limit=50)
    assert [item.id for item in page] == plain(db, FILTERS[name])[:50]
    # Without the kept keys a first page decoded all the filter's equalities select (the
    # whole collection for ranges and text); now a few probes' worth, and so does a next page.
    assert decoded(db[ITEMS], finds.of(ITEMS)) <= 8 * PROBE < COUNT
    finds.finds.clear()
    _, after = list_items(db, FILTERS[name], TODAY, limit=50)
    if after is not None:
        list_items(watched, FILTERS[name], TODAY, limit=50, after=after)
        assert decoded(db[ITEMS], finds.of(ITEMS)) <= 8 * PROBE


def test_items_created_at_one_instant_more_than_a_probe_are_all_listed_in_id_order(stored):
    db, _, _ = stored
    at = START + timedelta(days=40, seconds=9000)
    imported = sorted(doc["_id"] for doc in db[ITEMS].find({"created_at": at}, {"_id": 1}))
    assert len(imported) > PROBE
    page, _ = list_items(db, ItemFilter(), TODAY, limit=len(imported) + 5,
                         after=(at - timedelta(seconds=10), "item-01797"))
    assert [item.id for item in page] == ["item-01798", "item-01799", *imported][:len(page)]


def test_items_stored_before_the_keys_are_given_them_once_and_listed(settings):
    db = mongo.database(settings, "issues")
    ensure_indexes(db)
    repo = MongoItemRepository(db)
    item, _ = stored_items()[0]
    repo.add(item, [])
    # As stored before: no keys, no markers, the backfill not done.
    db[ITEMS].update_one({"_id": item.id}, {"$unset": {key: "" for key in list_keys.KEYS}})
    db[MARKERS].delete_many({})
    assert list_items(db, ItemFilter(q=item.measure[1:4]), TODAY, limit=5)[0] == []

    ensure_indexes(db)

    for f in (ItemFilter(), ItemFilter(q=item.measure[1:4]), ItemFilter(overdue=True)):
        assert [i.id for i in list_items(db, f, TODAY, limit=5)[0]] == [item.id]
    assert fill_list_keys(db) == 0
