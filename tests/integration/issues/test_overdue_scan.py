"""Overdue items are announced once per deadline, with two scanners running and after restarts."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from services.issues import handlers, scheduler
from services.issues.domain.model import Caller, Item
from services.issues.repository import MongoItemRepository
from shared.clock import now_ms
from tests.integration.issues.conftest import YUECHENG
from tests.support import eventually


def overdue_items(repo: MongoItemRepository, count: int) -> list[str]:
    ids = []
    for n in range(count):
        item, _ = Item.create(id=f"late-{n}", actor=Caller("city", "city_admin"),
                              at=datetime(2025, 1, 1, tzinfo=UTC), county=YUECHENG,
                              township="灵芝镇", village=f"第{n}村", problem="问题", measure="措施",
                              deadline=date(2025, 6, 30))
        repo.add(item, [])
        ids.append(item.id)
    return ids


def announcements(db) -> list[str]:
    return [e["subject"] for change in db.item_changes.find({}, {"outbox": 1})
            for e in change["outbox"] if e["type"] == "issue.overdue"]


def test_two_scheduler_instances_announce_each_overdue_item_once(settings, db, repo):
    ids = overdue_items(repo, 6)
    stop = threading.Event()
    instances = [threading.Thread(target=scheduler.run, args=(settings, stop, 0.2))
                 for _ in range(2)]
    for instance in instances:
        instance.start()
    try:
        eventually(lambda: sorted(announcements(db)) == sorted(ids), timeout=60,
                   message="not every overdue item was announced")
    finally:
        stop.set()
        for instance in instances:
            instance.join(timeout=30)
    assert sorted(announcements(db)) == sorted(ids)
    assert {repo.get(i).overdue_count for i in ids} == {1}


def test_racing_scans_without_the_lease_still_announce_once(db, repo):
    ids = overdue_items(repo, 6)
    scans = [threading.Thread(target=handlers.announce_overdue,
                              kwargs={"repo": MongoItemRepository(db), "at": now_ms()})
             for _ in range(3)]
    for scan in scans:
        scan.start()
    for scan in scans:
        scan.join(timeout=60)
    assert sorted(announcements(db)) == sorted(ids)
    # a restarted scanner finds nothing left to announce
    assert handlers.announce_overdue(repo, at=now_ms()) == 0
