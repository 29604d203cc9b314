"""What the change log writes: one document per version, holding the state and its outbox."""

from __future__ import annotations

from shared.changelog import change_document, change_id, current_fields


def test_a_change_is_keyed_by_aggregate_and_version_and_holds_the_state_and_its_events():
    state = {"_id": "item-1", "version": 3, "status": "closed"}
    event = {"id": "e1", "type": "issue.closed"}
    change = change_document("item_id", state, [event])
    assert change == {"_id": "item-1:3", "item_id": "item-1", "version": 3, "state": state,
                      "outbox": [event], "outbox_pending": True}


def test_a_change_without_events_has_nothing_pending():
    change = change_document("item_id", {"_id": "i", "version": 1}, [])
    assert change["outbox"] == [] and change["outbox_pending"] is False


def test_the_id_of_a_change_names_its_aggregate_and_version():
    assert change_id("insp-7", 0) == "insp-7:0"


def test_the_current_state_is_set_to_everything_but_the_id():
    assert current_fields({"_id": "i", "version": 2, "status": "open"}) == {
        "version": 2, "status": "open"}
