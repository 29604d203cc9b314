"""The kept figures equal a full recount once the events have settled: after redelivery, a
replay, a crash between the two writes of a fold, concurrent changes of one county's items, and
the figures process SIGKILLed in the middle of a burst (nothing rebuilt)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from services.issues import handlers
from services.issues.domain.model import Caller, local_date
from services.issues.figures import Folder, differences
from services.issues.repository import (
    MongoFigures,
    MongoItemRepository,
    changelog,
    ensure_indexes,
)
from shared import kafka, mongo
from shared.clock import now_ms
from shared.events import encode, new_event, parse
from shared.outbox import Relay
from tests.integration.issues.conftest import KEQIAO, YUECHENG
from tests.processes import environment, python_module
from tests.support import eventually

CITY = Caller("city", "city_admin")


def new_item(repo, county: str, n: int, *, deadline_days: int):
    new = handlers.NewItem(county=county, township="灵芝镇", village=f"村{n}", problem="问题",
                           measure="措施",
                           deadline=local_date(now_ms()) + timedelta(days=deadline_days))
    return handlers.create_item(repo, new, CITY)[0]


def life(repo, item, rng: random.Random) -> None:
    """Some of an item's lifecycle: started, submitted, crossed off, reopened by a check."""
    steps = rng.randint(0, 4)
    for to, extra in [("in_progress", {}), ("pending_verification", {"evidence": ["照片.jpg"]}),
                      ("closed", {})][:steps]:
        item = handlers.transition_item(repo, item.id, to, CITY, expected_version=item.version,
                                        **extra)
    if steps == 4:
        handlers.apply_check(repo, check_failed(item), reopen_deadline_days=30)


def check_failed(item):
    return parse(encode(new_event(
        "inspection.check_failed", subject="insp-1", county=item.county, data={
            "inspection_id": "insp-1", "item_id": item.id, "target_county": item.county,
            "outcome": "fail", "findings": "整改不到位", "evidence": [],
            "observed_at": now_ms() + timedelta(seconds=1)})))


def changes_as_records(db) -> list:
    """Every item event recorded, as (event, position) in one partition, in the order of the
    items' versions (as the topic, keyed by item, brings them)."""
    records = []
    for change in sorted(changelog(db).changes.find({}), key=lambda c: (c["item_id"],
                                                                         c["version"])):
        for envelope in change.get("outbox") or []:
            records.append((parse(encode(envelope)), ("issues", 0, len(records))))
    return records


@pytest.fixture
def burst(settings):
    """Items of two counties, most of one, each some way along its lifecycle."""
    db = mongo.database(settings, "issues")
    ensure_indexes(db)
    repo = MongoItemRepository(db)
    rng = random.Random(7)
    for n in range(30):
        item = new_item(repo, YUECHENG if n % 3 else KEQIAO, n,
                        deadline_days=rng.choice((-20, -1, 10, 100)))
        life(repo, item, rng)
    return db


def test_folding_every_event_once_twice_or_after_a_crash_equals_a_full_recount(burst,
                                                                                monkeypatch):
    store = MongoFigures(burst)
    records = changes_as_records(burst)
    assert len(records) > 60
    folder = Folder(store)
    half = len(records) // 2
    folder.fold(records[:half])
    # A crash between the tallies and what the items count for: the next fold starts again
    # from the same offset (the commit never happened).
    monkeypatch.setattr(store, "keep_counted", lambda counted: (_ for _ in ()).throw(
        RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        folder.fold(records[half:])
    monkeypatch.undo()
    folder.fold(records[half - 5:])  # redelivered from before the crash
    assert differences(store) == {}
    folder.fold(records)  # a replay of everything, one poll
    for record in records[::7]:  # redelivered one at a time
        folder.fold([record])
    assert differences(store) == {}
    kept = store.recount()
    assert kept[YUECHENG]["by_status"] and kept[KEQIAO]["by_status"]


def test_a_rebuild_counts_the_items_and_later_events_fold_on_top(burst):
    store = MongoFigures(burst)
    assert store.rebuild(lambda item_id: hash(item_id) % 3) == 30
    assert differences(store) == {}
    repo = MongoItemRepository(burst)
    item = new_item(repo, YUECHENG, 99, deadline_days=-3)
    handlers.transition_item(repo, item.id, "in_progress", CITY, expected_version=1)
    records = changes_as_records(burst)
    Folder(store).fold(records)  # the events of items already counted change nothing
    assert differences(store) == {}


def test_the_figures_process_killed_mid_burst_ends_equal_to_a_recount(kafka_settings,
                                                                     tmp_path):
    db = mongo.database(kafka_settings, "issues")
    ensure_indexes(db)
    repo = MongoItemRepository(db)
    store = MongoFigures(db)
    stop = threading.Event()
    producer = kafka.producer(kafka_settings, "issues-relay-test")
    relay = threading.Thread(target=Relay(db, producer, "issues", kafka_settings).run,
                             args=(stop,), daemon=True)
    relay.start()
    env = environment(kafka_settings, FIGURES_GAUGE_SECONDS="1")
    process = python_module("figures", "services.issues.figures", env=env,
                            log_dir=tmp_path).start()
    errors: list[BaseException] = []

    def writer(seed: int, count: int) -> None:
        rng = random.Random(seed)
        try:
            for n in range(count):  # four writers at once, all on items of one county
                life(repo, new_item(repo, YUECHENG, seed * 1000 + n,
                                    deadline_days=rng.choice((-5, 3, 40))), rng)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    try:
        writers = [threading.Thread(target=writer, args=(seed, 40)) for seed in range(4)]
        for thread in writers:
            thread.start()
        eventually(lambda: store.tallies(), timeout=60,
                   message=f"nothing folded:\n{process.tail()}")
        process.kill()  # SIGKILL in the middle of the burst
        assert not process.running()
        process.start()
        for thread in writers:
            thread.join(timeout=300)
        assert not errors, errors
        eventually(lambda: differences(store) == {}, timeout=180, interval=1,
                   message=f"the figures never equalled a recount:\n{process.tail()}")
        recounted = store.recount()[YUECHENG]
        assert sum(recounted["by_status"].values()) == 160
    finally:
        process.stop()
        stop.set()
        relay.join(timeout=30)
        producer.close(timeout=5)
