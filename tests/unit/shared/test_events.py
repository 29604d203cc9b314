"""The envelope is CloudEvents 1.0 structured JSON, validated by the catalog on both sides."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.events import (
    CATALOG,
    INSPECTIONS_TOPIC,
    ISSUES_TOPIC,
    InvalidEvent,
    encode,
    new_event,
    parse,
    record_key,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def item_state(**overrides):
    state = {"id": "item-1", "county": "330602", "township": "灵芝镇", "village": "张市村",
             "problem": "个别党员大局意识不强", "measure": "每名党员写出《无违建承诺书》",
             "deadline": date(2027, 6, 30), "status": "closed", "reopen_count": 0,
             "version": 4, "created_at": NOW, "updated_at": NOW, "closed_at": NOW}
    return {**state, **overrides}


def failed_check(**overrides):
    data = {"inspection_id": "insp-1", "item_id": "item-1", "target_county": "330603",
            "outcome": "fail", "findings": "承诺书未公示", "evidence": ["photo-1.jpg"],
            "observed_at": NOW}
    return new_event("inspection.check_failed", subject="item-1", county="330603",
                     data={**data, **overrides})


def test_every_contract_event_type_is_in_the_catalog_on_its_topic():
    issue_types = {"issue.created", "issue.status_changed", "issue.reopened", "issue.closed",
                   "issue.overdue"}
    inspection_types = {"inspection.planned", "inspection.started", "inspection.check_passed",
                        "inspection.check_failed", "inspection.problem_found",
                        "inspection.completed"}
    assert {t for t, e in CATALOG.items() if e.topic == ISSUES_TOPIC} == issue_types
    assert {t for t, e in CATALOG.items() if e.topic == INSPECTIONS_TOPIC} == inspection_types


def test_an_item_event_is_a_cloudevent_with_county_and_itemversion():
    envelope = new_event("issue.closed", subject="item-1", county="330602", itemversion=4,
                         data={"item": item_state(), "closed_at": NOW})
    assert envelope["specversion"] == "1.0"
    assert uuid.UUID(envelope["id"])
    assert envelope["source"] == "/services/issues"
    assert envelope["county"] == "330602"
    assert envelope["itemversion"] == 4
    assert datetime.fromisoformat(envelope["time"]).utcoffset() is not None
    assert envelope["data"]["item"]["deadline"] == "2027-06-30"


def test_chinese_text_round_trips_unchanged():
    envelope = failed_check()
    raw = encode(envelope)
    assert "承诺书未公示".encode() in raw  # not \\u-escaped
    assert parse(raw).data["findings"] == "承诺书未公示"


def test_producing_data_that_misses_a_required_field_is_refused():
    with pytest.raises(ValueError, match="inspection_id"):
        new_event("inspection.check_failed", subject="item-1", county="330603",
                  data={"item_id": "item-1", "target_county": "330603", "outcome": "fail",
                        "observed_at": NOW})


def test_check_events_are_keyed_by_the_item_so_each_item_stays_in_order():
    assert record_key(failed_check()) == b"item-1"
    started = new_event("inspection.started", subject="insp-1", county="330603",
                        data={"inspection_id": "insp-1", "target_county": "330603",
                              "kind": "spot_check", "item_ids": ["item-1"], "started_at": NOW,
                              "started_by": "inspector-1"})
    assert record_key(started) == b"insp-1"


def test_consumers_read_tolerantly_ignoring_unknown_fields():
    envelope = failed_check()
    envelope["traceparent"] = "00-abc"
    envelope["data"]["new_field_from_the_future"] = 1
    event = parse(encode(envelope))
    assert event.type == "inspection.check_failed"
    assert event.data["observed_at"] == NOW
    assert "new_field_from_the_future" not in event.data


@pytest.mark.parametrize("value, reason", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (None, "no value"),
    (json.dumps({"specversion": "1.0", "type": "issue.deleted"}).encode(), "catalog"),
])
def test_records_that_are_not_our_events_are_invalid(value, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse(value)


def test_an_event_whose_data_breaks_its_schema_is_invalid():
    envelope = failed_check()
    envelope["data"]["outcome"] = "maybe"
    with pytest.raises(InvalidEvent, match="outcome"):
        parse(encode(envelope))


def test_docs_events_md_is_written_from_the_catalog_and_up_to_date():
    from pathlib import Path

    from tools.events_doc import catalog_markdown

    doc = Path(__file__).resolve().parents[3] / "docs" / "events.md"
    assert doc.read_text() == catalog_markdown(), "run `make docs` to regenerate docs/events.md"
    for spec in CATALOG.values():
        assert f"## `{spec.name}`" in doc.read_text()
