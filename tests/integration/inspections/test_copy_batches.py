"""The inspections consumer keeps a poll's item snapshots at once, on the real database: the
newest of each item kept, stale and repeated ones changing nothing, an unreadable one left to
one at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.inspections.consumer import batch_handler_for
from services.inspections.repository import MongoItemCopy
from shared.consumer import DUPLICATE, PROCESSED
from shared.events import encode, new_event, parse
from tests.integration.inspections.conftest import YUECHENG


def snapshot_event(item_id: str, version: int, status: str = "open"):
    state = {"id": item_id, "county": YUECHENG, "township": "灵芝镇", "village": "张市村",
             "problem": "个别党员大局意识不强", "measure": "每名党员写出《无违建承诺书》",
             "deadline": date(2026, 6, 30), "status": status, "reopen_count": 0, "overdue": False,
             "overdue_count": 0, "closed_at": None, "version": version,
             "created_at": datetime(2026, 1, 5, tzinfo=UTC),
             "updated_at": datetime(2026, 1, 5, version, tzinfo=UTC)}
    envelope = new_event("issue.status_changed", subject=item_id, county=YUECHENG,
                         itemversion=version, data={
                             "from_": "open", "to": status, "reason": None,
                             "cause": "transition", "actor": "county_admin@330602",
                             "item": state})
    return parse(encode(envelope))


def keep(settings, events) -> list[str | None]:
    return batch_handler_for(settings)([(e, ("t", 0, n)) for n, e in enumerate(events)])


def test_a_poll_of_snapshots_keeps_the_newest_of_each_item_once(settings, db):
    newer, older = snapshot_event("b1", 3, "in_progress"), snapshot_event("b1", 2)
    other = snapshot_event("b2", 1)
    # Two versions of one item in one batch, the newer first; the same snapshot twice.
    assert keep(settings, [newer, other, older, other]) == [PROCESSED, PROCESSED, DUPLICATE,
                                                             DUPLICATE]
    copies = MongoItemCopy(db).get_many(["b1", "b2"])
    assert copies["b1"].version == 3 and copies["b1"].status == "in_progress"
    assert copies["b2"].version == 1
    assert keep(settings, [older, newer, other]) == [DUPLICATE] * 3
    assert keep(settings, [snapshot_event("b1", 4, "pending_verification")]) == [PROCESSED]
    assert MongoItemCopy(db).get_many(["b1"])["b1"].status == "pending_verification"


def test_a_snapshot_that_cannot_be_read_is_left_to_one_at_a_time(settings, db):
    broken = snapshot_event("b3", 1)
    del broken.data["item"]["county"]
    assert keep(settings, [snapshot_event("b4", 1), broken]) == [PROCESSED, None]
    assert set(MongoItemCopy(db).get_many(["b3", "b4"])) == {"b4"}
