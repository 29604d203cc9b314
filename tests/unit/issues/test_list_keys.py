"""The keys an item keeps for the lists: each filter's items carry the equality it is asked
for by, whatever happened to the item."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.issues.domain import list_keys
from services.issues.domain.model import ReportedCheck
from tests.unit.issues.builders import T0, closed_item, later, new_item


def test_the_creation_buckets_run_from_the_month_to_the_minute_in_utc():
    at = datetime(2026, 3, 1, 1, 5, 30, tzinfo=UTC)
    assert list_keys.created_buckets(at) == ("2026-03", "2026-03-01", "2026-03-01T01",
                                             "2026-03-01T01:05")


def test_every_text_of_an_item_has_the_token_its_searches_ask_for():
    keys = list_keys.list_keys(new_item())  # in 张市村
    for q in ("承诺书", "张市村", "“无违建村”"):
        assert list_keys.search_token(q) in keys["tokens"]
    assert list_keys.search_token("台账") not in keys["tokens"]


def test_the_overdue_key_follows_the_announcement_the_closure_and_a_reopening():
    item = new_item(deadline=date(2026, 3, 5))
    assert list_keys.overdue_key(item) == "due:2026-03"
    item.announce_overdue(date(2026, 3, 6), later(100))
    assert list_keys.overdue_key(item) == list_keys.ANNOUNCED
    closed = closed_item(deadline=date(2026, 3, 5))
    assert list_keys.overdue_key(closed) == list_keys.CLOSED_KEY
    closed.apply_check(ReportedCheck("e-1", "i-1", passed=False, observed_at=later(200)),
                       at=later(201), reopen_deadline_days=30)
    assert list_keys.overdue_key(closed) == f"due:{(later(200) + timedelta(30)).date():%Y-%m}"


def test_updated_since_is_the_days_left_of_its_month_then_whole_months():
    since = datetime(2026, 1, 29, 23, 0, tzinfo=UTC)
    alternatives = list_keys.updated_since(since, datetime(2026, 3, 10, tzinfo=UTC), "2025-06")
    assert alternatives == [{"updated_day": "2026-01-29"}, {"updated_day": "2026-01-30"},
                            {"updated_day": "2026-01-31"}, {"updated_month": "2026-02"},
                            {"updated_month": "2026-03"}]
    assert list_keys.updated_since(T0, T0, "2026-03") == [{"updated_day": "2026-03-02"},
                                                          {"updated_day": "2026-03-03"}]


def test_updated_since_long_before_the_first_item_asks_only_for_the_months_with_data():
    # A since of the year 13 (any client may send one) is not 24,000 months of queries.
    ancient = datetime(13, 1, 1, 3, 0, tzinfo=UTC)
    alternatives = list_keys.updated_since(ancient, datetime(2026, 3, 10, tzinfo=UTC), "2026-02")
    assert alternatives[0] == {"updated_day": "2026-02-01"} and len(alternatives) == 29
