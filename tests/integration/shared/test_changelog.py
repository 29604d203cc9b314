"""The change log on the real database: writers racing on one aggregate never lose a change,
a stale version is refused, and a crash between a change and its current state is healed."""

from __future__ import annotations

import threading

import pytest

from shared import mongo
from shared.changelog import ChangeLog, change_document

WRITERS, ATTEMPTS = 4, 25


@pytest.fixture
def log(settings) -> ChangeLog:
    changelog = ChangeLog(mongo.database(settings, "changelog"), "things", "thing_changes",
                          key="thing_id")
    changelog.ensure_indexes()
    return changelog


def born(log: ChangeLog, thing_id: str = "t1") -> dict:
    state = {"_id": thing_id, "version": 1, "marks": []}
    assert log.record(state, [])
    return state


def changed(state: dict, mark: str) -> dict:
    return {**state, "version": state["version"] + 1, "marks": [*state["marks"], mark]}


def test_writers_racing_on_one_aggregate_never_lose_a_change(log):
    born(log)
    recorded: list[str] = []
    start = threading.Barrier(WRITERS)

    def writer(name: str) -> None:
        start.wait()
        for n in range(ATTEMPTS):
            mark = f"{name}-{n}"
            if log.record(changed(log.get("t1"), mark), []):
                recorded.append(mark)

    threads = [threading.Thread(target=writer, args=(f"w{w}",)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    final = log.get("t1")
    assert recorded, "no writer ever won"
    assert final["version"] == 1 + len(recorded)
    assert sorted(final["marks"]) == sorted(recorded)
    history = log.history("t1")
    assert [c["version"] for c in history] == list(range(1, len(recorded) + 2))
    # Each change builds on the one before it: nothing was overwritten on the way.
    for before, after in zip(history, history[1:], strict=False):
        assert after["state"]["marks"][:-1] == before["state"]["marks"]
    assert log.current.find_one({"_id": "t1"})["version"] == final["version"]


def test_a_change_decided_on_a_stale_version_is_refused(log):
    first = born(log)
    assert log.record(changed(first, "a"), [])
    assert not log.record(changed(first, "b"), [])
    assert log.get("t1")["marks"] == ["a"]
    assert not log.record({"_id": "t1", "version": 1, "marks": []}, []), "created twice"


def test_a_change_whose_current_state_was_never_written_is_found_and_healed(log):
    first = born(log)
    # A crash right after the insert: the change is there, the current state is not updated.
    log.changes.insert_one(change_document("thing_id", changed(first, "lost?"), []))
    log.changes.insert_one(change_document("thing_id", {"_id": "t2", "version": 1,
                                                        "marks": ["new"]}, []))
    assert log.current.find_one({"_id": "t1"})["version"] == 1
    assert log.get("t1")["marks"] == ["lost?"]
    assert log.current.find_one({"_id": "t1"})["marks"] == ["lost?"]
    assert log.get("t2")["marks"] == ["new"] and log.current.find_one({"_id": "t2"})


def test_changes_carry_their_events_as_an_outbox_for_the_relay(log):
    event = {"id": "e1", "type": "thing.changed"}
    first = born(log)
    log.record(changed(first, "a"), [event])
    [_, change] = log.history("t1")
    assert change["outbox"] == [event] and change["outbox_pending"] is True
    assert "outbox" not in log.current.find_one({"_id": "t1"})


def test_many_new_aggregates_are_recorded_at_once_and_a_repeat_keeps_what_is_there(log):
    batch = [({"_id": f"n{i}", "version": 1, "marks": []}, []) for i in range(5)]
    log.record_new(batch[:3])
    assert log.record(changed(log.get("n0"), "moved on"), [])
    log.record_new(batch)
    assert log.current.count_documents({}) == 5 and log.changes.count_documents({}) == 6
    assert log.get("n0")["marks"] == ["moved on"]
    assert log.at("n0", 1)["marks"] == [] and log.at("n0", 3) is None
