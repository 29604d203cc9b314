"""The sample county receiver keeps each event once and drops stale item versions."""

from __future__ import annotations

from tools.county_receiver import Inbox


def event(id_: str, subject: str = "item-1", version: int | None = 1) -> dict:
    return {"id": id_, "subject": subject, "itemversion": version, "type": "issue.created"}


def test_a_repeated_event_is_dropped():
    inbox = Inbox(None)
    assert inbox.take(event("e1")) == "kept"
    assert inbox.take(event("e1")) == "repeated"


def test_an_older_item_version_than_the_last_kept_is_stale():
    inbox = Inbox(None)
    assert inbox.take(event("e2", version=2)) == "kept"
    assert inbox.take(event("e1", version=1)) == "stale"
    assert inbox.take(event("e3", subject="item-2", version=1)) == "kept"


def test_events_without_an_item_version_are_kept_once(tmp_path):
    inbox = Inbox(tmp_path / "inbox.jsonl")
    assert inbox.take(event("e1", subject="inspection-1", version=None)) == "kept"
    assert inbox.take(event("e2", subject="inspection-1", version=None)) == "kept"
    assert len((tmp_path / "inbox.jsonl").read_text().splitlines()) == 2
