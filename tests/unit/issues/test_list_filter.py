"""The filter a list sends to the database: plain equalities at its top level, where every
MongoDB-compatible store can use an index for them (FerretDB looks nowhere else)."""

from datetime import date

from services.issues.repository import ItemFilter, _combined, _query

TODAY = date(2026, 11, 23)


def test_the_equalities_of_a_list_filter_are_at_the_top_level_and_the_rest_under_and():
    conditions = _query(ItemFilter(county="330603", status="open", q="台账", overdue=True), TODAY)
    query = _combined(conditions)
    assert query["county"] == "330603" and query["status"] == "open"
    assert [c for c in query["$and"] if "county" in c or c == {"status": "open"}] == []
    assert len(query["$and"]) == 2  # the text search and the overdue condition


def test_no_condition_is_no_filter_and_a_repeated_field_keeps_both_conditions():
    assert _combined([]) == {}
    query = _combined([{"status": "open"}, {"status": "closed"}])
    assert query == {"status": "open", "$and": [{"status": "closed"}]}
